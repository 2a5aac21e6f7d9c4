import { afterEach, describe, expect, it } from 'vitest';
import { blockToW, createOscpAdapter, type OscpAdapter } from '../../../adapters/oscp/index.js';
import { OscpSchema } from '../../../src/config/sections/grid.js';
import { VirtualClock } from '../../../src/model/clock.js';
import { silentLogger } from '../../../src/util/logger.js';
import { createMetricsRegistry } from '../../../src/util/metrics.js';
import { createOscpCpSim, type OscpCpSim } from '../../../sim/utility/oscp-cp.js';
import { adapterTestStore, routeHost } from '../../grid/helpers.js';

const T0 = Date.UTC(2026, 0, 1, 17);
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function setup(opts: { grantUpToKw?: number; demandW?: number } = {}) {
  const clock = new VirtualClock(T0);
  const cp: OscpCpSim = createOscpCpSim({ clock, cpToken: 'cp-token', grantUpToKw: opts.grantUpToKw ?? 0 });
  await cp.start();
  closers.push(() => cp.stop());
  const metrics = createMetricsRegistry({ defaultMetrics: false });
  const store = adapterTestStore(clock);
  let hostUrl: string | undefined;
  const fp: OscpAdapter = createOscpAdapter(
    OscpSchema.parse({
      enabled: true,
      capacityProviderUrl: cp.url,
      cpToken: 'cp-token',
      fpToken: 'fp-token',
      groupId: 'depot-1',
      heartbeatIntervalS: 30,
      measurementIntervalMs: 3_600_000,
    }),
    {
      clock,
      log: silentLogger(),
      metrics,
      store,
      measurements: () => ({ siteW: 31_250, flexibleW: 22_000 }),
      ...(opts.demandW !== undefined ? { demandW: () => opts.demandW } : {}),
      baseUrl: () => hostUrl,
    },
  );
  const host = await routeHost((app) => fp.routes(app));
  closers.push(() => host.close());
  hostUrl = host.url;
  await fp.start();
  closers.push(() => fp.stop());
  await until(() => fp.status().handshakeAcknowledged);
  return { clock, cp, fp, store, metrics };
}

const block = (startMs: number, endMs: number, capacity: number, unit = 'KW', phase = 'ALL') => ({
  capacity,
  phase,
  unit,
  start_time: new Date(startMs).toISOString(),
  end_time: new Date(endMs).toISOString(),
});

describe('OSCP 2.0 flexibility provider against the capacity-provider simulator (real HTTP)', () => {
  it('registers and hand-shakes, then turns a CONSUMPTION forecast into an import limit', async () => {
    const { cp, store, clock } = await setup();
    expect(cp.received.map((m) => m.name).slice(0, 2)).toEqual(['register', 'handshake']);
    expect(cp.fp()?.token).toBe('fp-token');
    expect(await cp.sendHeartbeat(120_000)).toBe(204);
    expect(
      await cp.sendForecast('depot-1', 'CONSUMPTION', [
        block(T0, T0 + 900_000, 40),
        block(T0 + 900_000, T0 + 1_800_000, 25),
      ]),
    ).toBe(204);
    expect(store.input(clock.now()).importLimits[0]).toMatchObject({ value: 40_000, source: 'oscp' });
    expect(store.input(T0 + 1_000_000).importLimits[0]?.value).toBe(25_000);
    expect(store.input(T0 + 1_800_000).importLimits).toHaveLength(0);
  });

  it('converts per-phase amps and GENERATION blocks', async () => {
    const { cp, store, clock } = await setup();
    await cp.sendHeartbeat(120_000);
    await cp.sendForecast('depot-1', 'CONSUMPTION', [block(T0, T0 + 900_000, 63, 'A', 'ALL')]);
    await cp.sendForecast('depot-1', 'GENERATION', [block(T0, T0 + 900_000, 10)]);
    const input = store.input(clock.now());
    expect(input.importLimits[0]?.value).toBe(63 * 230 * 3);
    expect(input.exportLimits[0]?.value).toBe(10_000);
    expect(blockToW(block(0, 1, 16, 'A', 'ONE') as never, 230)).toBe(3680);
  });

  it('rejects malformed forecasts naming the field, counts them and keeps the previous one', async () => {
    const { cp, store, clock, metrics } = await setup();
    await cp.sendHeartbeat(120_000);
    await cp.sendForecast('depot-1', 'CONSUMPTION', [block(T0, T0 + 900_000, 40)]);
    expect(
      await cp.sendRaw('update_group_capacity_forecast', {
        group_id: 'depot-1',
        type: 'CONSUMPTION',
        forecasted_blocks: [{ capacity: 'lots' }],
      }),
    ).toBe(400);
    expect(await cp.sendForecast('depot-1', 'CONSUMPTION', [block(T0, T0 + 900_000, 5, 'KWH')])).toBe(400);
    expect(await cp.sendForecast('other-group', 'CONSUMPTION', [block(T0, T0 + 900_000, 5)])).toBe(400);
    expect(store.input(clock.now()).importLimits[0]?.value).toBe(40_000);
    const text = await metrics.metrics();
    expect(text).toMatch(/field="update_group_capacity_forecast.forecasted_blocks.0.capacity"/);
    expect(text).toMatch(/field="update_group_capacity_forecast.group_id"/);
  });

  it('serves its endpoints on the host server under the OSCP path, refusing a wrong token and non-JSON', async () => {
    const { fp, metrics } = await setup();
    expect(fp.baseUrl()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/oscp\/fp\/2\.0$/);
    const post = (msg: string, auth: string, body: string) =>
      fetch(`${fp.baseUrl()}/${msg}`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body,
      });
    expect((await post('heartbeat', 'Token nope', JSON.stringify({ offline_mode_at: T0 }))).status).toBe(401);
    expect((await post('heartbeat', 'Token fp-token', '{not json')).status).toBe(400);
    expect(await metrics.metrics()).toMatch(
      /gridkeeper_grid_signals_rejected_total\{source="oscp",field="\(root\)"\} 1/,
    );
    expect((await post('no_such_message', 'Token fp-token', '{}')).status).toBe(404);
  });

  it('sends heartbeats and UpdateGroupMeasurements', async () => {
    const { cp, fp } = await setup();
    await fp.sendHeartbeat();
    await fp.sendMeasurements();
    const hb = cp.received.find((m) => m.name === 'heartbeat');
    expect(Date.parse(String(hb?.body['offline_mode_at']))).toBe(T0 + 60_000);
    const m = cp.received.find((x) => x.name === 'update_group_measurements');
    expect(m?.body['group_id']).toBe('depot-1');
    expect((m!.body['measurements'] as Array<{ value: number; unit: string }>)[0]).toMatchObject({
      value: 31.25,
      unit: 'KW',
      direction: 'NET',
    });
  });

  it('applies the fallback when the capacity provider goes offline, FALLBACK_CONSUMPTION included', async () => {
    const { cp, fp, store, clock } = await setup();
    await cp.sendHeartbeat(60_000);
    await cp.sendForecast('depot-1', 'CONSUMPTION', [block(T0, T0 + 3_600_000, 40)]);
    await cp.sendForecast('depot-1', 'FALLBACK_CONSUMPTION', [block(T0, T0 + 3_600_000, 15)]);
    expect(store.input(clock.now()).importLimits.map((l) => l.value)).toEqual([40_000]);
    cp.setOutage(503);
    clock.advance(61_000);
    await fp.sendHeartbeat();
    const input = store.input(clock.now());
    expect(input.importLimits.map((l) => l.value)).toEqual([15_000]);
    expect(input.fallback?.why).toContain('oscp unreachable');
    cp.setOutage(null);
    await cp.sendHeartbeat(60_000);
    expect(store.input(clock.now()).importLimits.map((l) => l.value)).toEqual([40_000]);
    expect(store.input(clock.now()).fallback).toBeUndefined();
  });

  it('asks for more capacity when the site needs it and takes what the DSO grants', async () => {
    const { cp, fp, store, clock } = await setup({ grantUpToKw: 50, demandW: 60_000 });
    await cp.sendHeartbeat(120_000);
    await cp.sendForecast('depot-1', 'CONSUMPTION', [block(T0, T0 + 900_000, 40)]);
    expect(await fp.checkAdjust()).toBe(true);
    const adj = cp.received.find((m) => m.name === 'adjust_group_capacity_forecast');
    expect((adj!.body['forecasted_blocks'] as Array<{ capacity: number }>)[0]?.capacity).toBe(60);
    await until(() => store.input(clock.now()).importLimits[0]?.value === 50_000);
  });

  it('leaves no timer behind after stop', async () => {
    const { fp, clock } = await setup();
    await fp.stop();
    expect(clock.pending()).toBe(0);
  });

  it('counts a capacity provider that takes our messages as reachable even before its first heartbeat', async () => {
    const { store, clock, cp, fp } = await setup();
    expect(store.fallback(clock.now()).active).toBe(false);
    cp.setOutage(503);
    await fp.sendHeartbeat();
    expect(store.fallback(clock.now()).why).toContain('HTTP 503');
  });
});
