import { afterEach, describe, expect, it } from 'vitest';
import { createOscpAdapter } from '../../adapters/oscp/index.js';
import { createOpenAdrVen } from '../../adapters/openadr/ven.js';
import { OpenAdrSchema, OscpSchema } from '../../src/config/sections/grid.js';
import { gridPolicies } from '../../src/cli/policies.js';
import { siteMeasurements } from '../../src/grid/measurements.js';
import { createGridService, type GridService } from '../../src/grid/service.js';
import type { Setpoint } from '../../src/model/decision.js';
import { reading } from '../../src/model/reading.js';
import { createUtilityDemo } from '../../sim/utility/demo.js';
import { evseSpec } from '../helpers/evse.js';
import { testConfig, testCore } from '../helpers/core.js';
import { routeHost } from './helpers.js';

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

describe('demo utility side: VTN + OSCP sims driving the gateway (acceptance path)', () => {
  it('cuts chargers under the VTN import limit naming the event, falls back when the VTN goes away, dispatches the battery and reports', async () => {
    const overrides = {
      site: { id: 'demo', limitW: 100_000, failsafeLimitW: 20_000, gridStaleAfterMs: 60_000, staleAfterMs: 60_000 },
      grid: {
        marginW: 0,
        fallback: { importLimitW: 30_000, sourceTimeoutMs: 30_000 },
        vpp: {
          battery: {
            id: 'bat',
            capacityWh: 100_000,
            maxChargeW: 40_000,
            maxDischargeW: 40_000,
            minSocPct: 20,
            maxSocPct: 95,
          },
        },
      },
    };
    const config = testConfig(overrides);
    let grid: GridService | undefined;
    const core = testCore(overrides, { policies: gridPolicies(config, () => grid) });
    const clock = core.vclock!;
    grid = createGridService(core.config, { clock, log: core.log, metrics: core.metrics, bus: core.bus });
    grid.store.onChange(() => core.loop.notifyChange());
    const t0 = clock.now();
    const demo = createUtilityDemo({ clock, siteLimitW: 100_000, firstEventAfterMs: 30_000, cycleMs: 15 * 60_000 });
    await demo.start();
    closers.push(() => demo.stop());
    const written: Setpoint[] = [];
    for (const id of ['CP1', 'CP2', 'CP3', 'CP4'])
      core.dispatcher.registerSink(id, { applySetpoint: async (sp) => void written.push(sp) });
    core.dispatcher.registerSink('battery:bat', { applySetpoint: async (sp) => void written.push(sp) });
    core.start();
    grid.start();
    closers.push(() => {
      grid?.stop();
      core.stop();
    });
    const measurements = () => siteMeasurements(core.state.snapshot(), { staleAfterMs: 60_000, batteryId: 'bat' });
    const ven = createOpenAdrVen(
      OpenAdrSchema.parse({ ...demo.gridConfig().openadr, pollIntervalMs: 3_600_000, reportIntervalMs: 3_600_000 }),
      {
        clock,
        log: core.log,
        metrics: core.metrics,
        store: grid.store,
        measurements,
      },
    );
    let hostUrl: string | undefined;
    const fp = createOscpAdapter(OscpSchema.parse({ ...demo.gridConfig().oscp, heartbeatIntervalS: 3600 }), {
      clock,
      log: core.log,
      metrics: core.metrics,
      store: grid.store,
      measurements,
      baseUrl: () => hostUrl,
    });
    const host = await routeHost((app) => fp.routes(app));
    closers.push(() => host.close());
    hostUrl = host.url;
    await ven.start();
    await fp.start();
    closers.push(
      () => ven.stop(),
      () => fp.stop(),
    );

    // Four cars drawing 22 kW each plus 12 kW building: 100 kW import.
    const publish = () => {
      const now = clock.now();
      for (const id of ['CP1', 'CP2', 'CP3', 'CP4']) {
        core.bus.emit('evse.live', { id: `${id}/1`, patch: { status: 'Charging', powerW: reading(22_000, now, id) } });
      }
      core.bus.emit('grid', { powerW: reading(100_000, now, 'meter') });
      core.bus.emit('battery', { powerW: reading(0, now, 'bat'), socPct: reading(70, now, 'bat') });
    };
    for (const id of ['CP1', 'CP2', 'CP3', 'CP4']) {
      core.bus.emit('evse.spec', evseSpec(`${id}/1`, { protocol: 'sim' }));
    }
    publish();
    await ven.pollNow();

    // The first demo event starts 30 s in: 60 kW import limit, below the 100 kW the site draws.
    // The meter and the chargers keep reporting meanwhile, as real ones do (a silent meter is the failsafe's case).
    for (let s = 0; s < 31; s++) {
      clock.advance(1000);
      publish();
    }
    await ven.pollNow();
    clock.advance(100);
    await core.dispatcher.idle();
    const evses = core.loop.lastRound()?.limits.find((l) => l.scope === 'evses');
    expect(evses?.maxImportW).toBe(60_000 - 12_000);
    const cp1 = core.dispatcher.current('CP1/1');
    expect(cp1?.powerW).toBeLessThanOrEqual(12_000);
    expect(cp1?.reasons.map((r) => r.text).join(' ')).toContain('import-limit-0');

    // The VTN goes away: after the source timeout the fallback (30 kW) holds, and the event still applies until its end.
    demo.setVtnOutage(true);
    clock.advance(31_000);
    publish();
    await ven.pollNow();
    clock.advance(100);
    const status = grid.status();
    expect(status.fallback.active).toBe(true);
    expect(status.fallback.why).toContain('HTTP 503');
    expect(core.loop.lastRound()?.limits.find((l) => l.scope === 'evses')?.maxImportW).toBe(30_000 - 12_000);
    demo.setVtnOutage(false);
    await ven.pollNow();

    // The dispatch set-point (half a cycle later): the battery discharges towards it.
    clock.runUntil(t0 + 30_000 + (15 * 60_000) / 2 + 1000);
    publish();
    await ven.pollNow();
    clock.advance(1000);
    await core.dispatcher.idle();
    const battery = written.filter((s) => s.evseId === 'battery:bat').at(-1);
    expect(battery?.powerW).toBeLessThan(0);
    expect(battery?.reasons[0]?.text).toContain('dispatch-0');

    await ven.reportNow();
    expect(demo.vtn.reports.length).toBeGreaterThan(0);
    expect(demo.cp.received.map((m) => m.name)).toContain('register');
  });
});
