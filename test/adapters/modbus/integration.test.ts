import { afterEach, describe, expect, it } from 'vitest';
import { createModbusAdapter } from '../../../adapters/modbus/index.js';
import { ModbusSchema } from '../../../src/config/sections/modbus.js';
import { ModbusChargerSim } from '../../../sim/devices/modbus/profile-sim.js';
import { SunSpecMeterSim } from '../../../sim/devices/modbus/sunspec-devices.js';
import { SitePhysics } from '../../../sim/site/physics.js';
import { testCore } from '../../helpers/core.js';
import { advanceUntil } from './helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('Modbus adapter in the gateway core (control loop -> dispatcher -> Modbus chargers)', () => {
  it('keeps grid import under the site limit with Modbus chargers, and falls back when the meter dies', async () => {
    const core = testCore({
      site: { id: 'mb', limitW: 22_000, failsafeLimitW: 4_000, gridStaleAfterMs: 3000 },
      store: { path: ':memory:' },
      api: { port: 0 },
      ocpp: { port: 0 },
    });
    const clock = core.vclock;
    if (!clock) throw new Error('virtual clock expected');
    cleanup.push(() => core.stop());
    const physics = new SitePhysics({ clock, baseLoadW: 6000, baseLoadNoiseW: 0, pvPeakW: 0 });
    physics.start();
    cleanup.push(() => physics.stop());
    const meter = new SunSpecMeterSim({ physics });
    const alfen = new ModbusChargerSim({ device: 'alfen-eve', physics, clock, id: 'cp-a' });
    const keba = new ModbusChargerSim({ device: 'keba-p30', physics, clock, id: 'cp-k' });
    for (const s of [meter, alfen, keba]) {
      await s.start();
      cleanup.push(() => s.stop());
    }
    const adapter = createModbusAdapter(
      ModbusSchema.parse({
        devices: [
          { id: 'grid-meter', role: 'grid', port: meter.port, pollMs: 500 },
          { id: 'alfen', role: 'charger', port: alfen.port, profile: 'alfen-eve', pollMs: 1000 },
          { id: 'keba', role: 'charger', port: keba.port, profile: 'keba-p30', pollMs: 1000 },
        ],
      }),
      { clock, log: core.log, bus: core.bus, dispatcher: core.dispatcher, metrics: core.metrics },
    );
    cleanup.push(() => adapter.stop());
    await adapter.start();
    core.start();
    const car = { capacityWh: 80_000, socPct: 20, maxCurrentA: 32, phases: 3 as const, responseDelayMs: 2000 };
    alfen.plugIn({ id: 'ev-a', ...car });
    keba.plugIn({ id: 'ev-k', ...car });
    await advanceUntil(
      clock,
      () => core.state.snapshot().evses.filter((e) => e.status === 'Charging').length === 2,
      200,
    );
    // Settle, then the site stays under its limit: 6 kW base + two cars sharing the rest.
    await advanceUntil(clock, () => physics.gridPowerW() > 10_000, 200);
    const t0 = clock.now();
    let worst = 0;
    await advanceUntil(
      clock,
      () => {
        if (clock.now() - t0 > 15_000) worst = Math.max(worst, physics.gridPowerW());
        return clock.now() - t0 >= 40_000;
      },
      200,
    );
    expect(worst).toBeGreaterThan(15_000);
    expect(worst).toBeLessThanOrEqual(22_000);
    // A load step: the chargers give way and import is back under the limit.
    physics.setBaseLoadStep(8000);
    const t1 = clock.now();
    await advanceUntil(clock, () => clock.now() - t1 >= 20_000, 200);
    expect(physics.gridPowerW()).toBeLessThanOrEqual(22_000);
    expect(alfen.setting('maxCurrent')).toBeLessThan(32);
    // 8 kW left for two cars cannot hold both at their 6 A minimum: one is paused, not both starved.
    expect([alfen.setting('maxCurrent'), keba.setting('setChargingCurrent')]).toContain(0);
    // Meter gone: failsafe limits the chargers to the safe budget.
    await meter.stop();
    const t2 = clock.now();
    await advanceUntil(clock, () => clock.now() - t2 >= 20_000, 200);
    expect(core.state.snapshot().stale).toContain('grid.powerW');
    expect(physics.controllableW()).toBeLessThanOrEqual(4_000 + 500);
    expect(core.state.snapshot().devices.find((d) => d.id === 'grid-meter')?.online).toBe(false);
  });
});
