import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createInfluxAdapter } from '../../../adapters/influx/index.js';
import { InfluxSchema } from '../../../src/config/sections/integration.js';
import { INTEGRATION_MIGRATIONS } from '../../../src/integration/migrations.js';
import { VirtualClock } from '../../../src/model/clock.js';
import { reading } from '../../../src/model/reading.js';
import { createGatewayBus } from '../../../src/bus/events.js';
import { SiteState } from '../../../src/state/site-state.js';
import { openDatabase } from '../../../src/store/db.js';
import { silentLogger } from '../../../src/util/logger.js';
import { createMetricsRegistry } from '../../../src/util/metrics.js';
import { evseSpec } from '../../api/fixture.js';
import { startInfluxd } from './influxd.js';

type Series = { results: Array<{ series?: Array<{ values: Array<[string, number]> }> }> };
const countOf = (r: unknown) => (r as Series).results[0]?.series?.[0]?.values[0]?.[1] ?? 0;

describe('InfluxDB 1.x export against a real influxd', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  function site(clock: VirtualClock) {
    const bus = createGatewayBus();
    const state = new SiteState({ siteId: 'depot', clock, bus, gridStaleAfterMs: 3000, staleAfterMs: 10_000 });
    state.start();
    bus.emit('evse.spec', evseSpec('CP01'));
    return {
      state,
      step(i: number) {
        const now = clock.now();
        bus.emit('grid', { powerW: reading(10_000 + i, now, 'meter') });
        bus.emit('pv', { powerW: reading(3_000, now, 'pv') });
        bus.emit('evse.live', { id: 'CP01/1', patch: { status: 'Charging', powerW: reading(7_000, now, 'CP01') } });
      },
    };
  }

  it('exports samples in batches, buffers on disk through an outage and a gateway restart, then sends everything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-influx-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    let influxd = await startInfluxd(join(dir, 'influx'));
    cleanup.push(() => influxd.stop());
    const config = InfluxSchema.parse({ port: influxd.ports.http, database: 'gk_test', batchSize: 50 });
    const dbPath = join(dir, 'gw.db');
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const s = site(clock);

    const open = () => {
      const db = openDatabase({ path: dbPath, migrations: INTEGRATION_MIGRATIONS });
      const adapter = createInfluxAdapter(config, {
        clock,
        log: silentLogger(),
        db,
        metrics: createMetricsRegistry({ defaultMetrics: false }),
        siteId: 'depot',
        snapshot: () => s.state.snapshot(),
        setpointW: () => 4_140,
      });
      return { db, adapter };
    };

    let gw = open();
    await gw.adapter.start();
    for (let i = 0; i < 20; i++) {
      s.step(i);
      clock.advance(config.intervalMs);
    }
    // 20 samples x 3 measurements (grid, pv, evse).
    expect(gw.adapter.buffered()).toBe(60);
    expect(await gw.adapter.flush()).toEqual({ sent: 60, ok: true });
    expect(gw.adapter.buffered()).toBe(0);
    expect(countOf(await influxd.query('gk_test', 'SELECT count(power_w) FROM grid'))).toBe(20);
    const evse = (await influxd.query(
      'gk_test',
      "SELECT power_w, setpoint_w FROM evse WHERE evse = 'CP01/1' LIMIT 1",
    )) as Series;
    expect(evse.results[0]?.series?.[0]?.values[0]?.slice(1)).toEqual([7000, 4140]);

    // Outage: influxd goes away; samples keep coming and stay on disk.
    const ports = influxd.ports;
    await influxd.stop();
    for (let i = 20; i < 50; i++) {
      s.step(i);
      clock.advance(config.intervalMs);
    }
    expect((await gw.adapter.flush()).ok).toBe(false);
    expect(gw.adapter.buffered()).toBe(90);

    // The gateway restarts during the outage: the buffer is in SQLite.
    await gw.adapter.stop();
    gw.db.close();
    gw = open();
    expect(gw.adapter.buffered()).toBe(90);
    await gw.adapter.start();
    cleanup.push(async () => {
      await gw.adapter.stop();
      gw.db.close();
    });

    influxd = await startInfluxd(join(dir, 'influx'), ports);
    expect(await gw.adapter.flush()).toEqual({ sent: 90, ok: true });
    expect(countOf(await influxd.query('gk_test', 'SELECT count(power_w) FROM grid'))).toBe(50);
    expect(countOf(await influxd.query('gk_test', 'SELECT count(power_w) FROM evse'))).toBe(50);
  }, 60_000);

  it('drops the oldest points beyond the buffer limit and counts them', async () => {
    const clock = new VirtualClock();
    const db = openDatabase({ path: ':memory:', migrations: INTEGRATION_MIGRATIONS });
    cleanup.push(() => {
      db.close();
    });
    const metrics = createMetricsRegistry({ defaultMetrics: false });
    const adapter = createInfluxAdapter(InfluxSchema.parse({ port: 1, maxBufferedPoints: 1000 }), {
      clock,
      log: silentLogger(),
      db,
      metrics,
      siteId: 'x',
    });
    for (let i = 0; i < 1100; i++) adapter.write([{ measurement: 'm', fields: { v: i }, ts: i }]);
    expect(adapter.buffered()).toBe(1000);
    expect((await metrics.getSingleMetric('gridkeeper_influx_points_dropped_total')!.get()).values[0]?.value).toBe(100);
  });
});
