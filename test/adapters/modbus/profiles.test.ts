import { afterEach, describe, expect, it } from 'vitest';
import { ModbusConfirmError } from '../../../adapters/modbus/errors.js';
import { type ModbusAdapter, createModbusAdapter } from '../../../adapters/modbus/index.js';
import { type ProfileDevice, planReads } from '../../../adapters/modbus/profile-device.js';
import { loadProfiles } from '../../../adapters/modbus/profiles.js';
import { ModbusSchema } from '../../../src/config/sections/modbus.js';
import type { Setpoint } from '../../../src/model/decision.js';
import { ModbusChargerSim, ProfileMeterSim } from '../../../sim/devices/modbus/profile-sim.js';
import { SitePhysics } from '../../../sim/site/physics.js';
import type { VehicleSpec } from '../../../sim/site/vehicle.js';
import { advanceUntil, recorder, testDeps } from './helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const car: VehicleSpec = {
  id: 'ev1',
  capacityWh: 60_000,
  socPct: 30,
  maxCurrentA: 32,
  phases: 3,
  responseDelayMs: 2000,
};

function sp(evseId: string, currentA: number, powerW = currentA * 3 * 230): Setpoint {
  return { evseId, currentA, powerW, phases: 3, reasons: [] };
}

async function setup(devices: unknown[]) {
  const deps = testDeps();
  const physics = new SitePhysics({ clock: deps.clock, baseLoadW: 5000, baseLoadNoiseW: 0 });
  physics.setPvOverride(2000);
  const rec = recorder(deps.bus);
  const start = async () => {
    const a: ModbusAdapter = createModbusAdapter(ModbusSchema.parse({ devices }), deps);
    cleanup.push(() => a.stop());
    await a.start();
    return a;
  };
  return { deps, physics, rec, start };
}

/**
 * A profile meter simulator and the gateway's Modbus adapter reading it as `role`, until its first
 * reading. `before` sets the site's counters once the simulator runs.
 */
async function meterReading(
  device: string,
  role: 'grid' | 'pv',
  opts: { usage?: 'pv'; before?: (physics: SitePhysics) => void } = {},
) {
  const ctx = await setup([]);
  const sim = new ProfileMeterSim({ device, physics: ctx.physics, ...(opts.usage ? { usage: opts.usage } : {}) });
  await sim.start();
  cleanup.push(() => sim.stop());
  opts.before?.(ctx.physics);
  const a = createModbusAdapter(
    ModbusSchema.parse({ devices: [{ id: 'm', role, port: sim.port, profile: device }] }),
    ctx.deps,
  );
  cleanup.push(() => a.stop());
  await a.start();
  await advanceUntil(ctx.deps.clock, () => ctx.rec.of(role).length > 0);
  return { sim, rec: ctx.rec };
}

describe('Eastron SDM630 profile (FC04 float32)', () => {
  it('reads power, currents and kWh counters as a grid meter', async () => {
    const { sim, rec } = await meterReading('eastron-sdm630', 'grid', {
      before: (physics) => {
        physics.importWh = 1_234_500;
        physics.exportWh = 10_000;
      },
    });
    const g = rec.last('grid');
    expect(g?.powerW?.value).toBeCloseTo(3000, 1);
    expect(g?.currentsA?.value[0]).toBeCloseTo(3000 / 3 / 230, 3);
    expect(g?.importEnergyWh?.value).toBeCloseTo(1_234_500, -2); // float32 kWh resolution
    expect(g?.exportEnergyWh?.value).toBeCloseTo(10_000, 0);
    // Registers really are input registers at the documented addresses.
    expect(sim.unit.get('input', 0x0034, 2)).toBeDefined();
    expect(sim.unit.get('holding', 0x0034, 2)).toBeUndefined();
  });

  it('as a PV meter the sign flips in data: production is PV >= 0', async () => {
    const { rec } = await meterReading('eastron-sdm630', 'pv', { usage: 'pv' });
    expect(rec.last('pv')?.powerW?.value).toBeCloseTo(2000, 1);
  });
});

describe('Janitza UMG 604 profile (FC03 float32, Wh counters)', () => {
  it('reads the consumer-signed sum power and the tariff-free energy sums as a grid meter', async () => {
    const { sim, rec } = await meterReading('janitza-umg604', 'grid', {
      before: (physics) => {
        physics.importWh = 2_345_600;
        physics.exportWh = 12_000;
      },
    });
    const g = rec.last('grid');
    // 5000 W base load - 2000 W PV: the site imports 3000 W, + as the gateway counts the grid.
    expect(g?.powerW?.value).toBeCloseTo(3000, 1);
    expect(g?.currentsA?.value[1]).toBeCloseTo(3000 / 3 / 230, 3);
    expect(g?.importEnergyWh?.value).toBeCloseTo(2_345_600, -1);
    expect(g?.exportEnergyWh?.value).toBeCloseTo(12_000, 0);
    expect(sim.unit.get('holding', 19026, 2)).toBeDefined();
    expect(sim.unit.get('input', 19026, 2)).toBeUndefined();
  });
});

describe('Modbus chargers from profiles', () => {
  async function charger(name: string, extra: Record<string, unknown> = {}) {
    const ctx = await setup([]);
    const sim = new ModbusChargerSim({ device: name, physics: ctx.physics, clock: ctx.deps.clock, id: 'cp' });
    await sim.start();
    cleanup.push(() => sim.stop());
    ctx.physics.start();
    cleanup.push(() => ctx.physics.stop());
    const a = createModbusAdapter(
      ModbusSchema.parse({
        devices: [{ id: 'mb1', role: 'charger', port: sim.port, profile: name, pollMs: 1000, ...extra }],
      }),
      ctx.deps,
    );
    cleanup.push(() => a.stop());
    await a.start();
    await advanceUntil(ctx.deps.clock, () => ctx.rec.of('evse.live').length > 0);
    const sink = ctx.deps.dispatcher.sinks.get('mb1/1');
    if (!sink) throw new Error('charger sink not registered');
    return { ...ctx, sim, a, sink };
  }

  it('Alfen-like: announces the EVSE, applies a current limit with read-back, and keeps it alive', async () => {
    const { sim, sink, rec, deps, a } = await charger('alfen-eve', {
      evse: { phaseRotation: 'L2L3L1', maxCurrentA: 25 },
    });
    const spec = rec.last('evse.spec');
    expect(spec).toMatchObject({
      id: 'mb1/1',
      chargerId: 'mb1',
      protocol: 'modbus',
      phases: 3,
      minCurrentA: 6,
      maxCurrentA: 25,
      phaseRotation: 'L2L3L1',
      bidirectional: false,
    });
    expect(rec.of('evse.spec').length).toBe(1);
    expect(rec.last('evse.live')?.patch.status).toBe('Available');
    sim.plugIn(car);
    await sink.applySetpoint(sp('mb1/1', 16));
    expect(sim.setting('maxCurrent')).toBe(16);
    await advanceUntil(deps.clock, () => rec.last('evse.live')?.patch.status === 'Charging');
    const live = rec.last('evse.live')?.patch;
    expect(live?.powerW?.value).toBeCloseTo(16 * 3 * 230, 0);
    expect(live?.currentsA?.value[0]).toBeCloseTo(16, 3);
    // The device reverts after 60 s without a write; the adapter rewrites before that.
    const t0 = deps.clock.now();
    await advanceUntil(deps.clock, () => deps.clock.now() - t0 >= 150_000, 1000, 200_000);
    expect(sim.reverted).toBe(0);
    expect(sim.setpointWrites).toBeGreaterThanOrEqual(4);
    // Gateway gone: the charger falls back on its own.
    await a.stop();
    deps.clock.advance(61_000);
    expect(sim.reverted).toBe(1);
  });

  it('Alfen-like: out-of-range set-points are clamped to the profile range', async () => {
    const { sim, sink } = await charger('alfen-eve');
    await sink.applySetpoint(sp('mb1/1', 40));
    expect(sim.setting('maxCurrent')).toBe(32);
  });

  it('KEBA-like: FC06 write-only current in mA, confirmed through the read register, failsafe timeout set', async () => {
    const { sim, sink, deps, rec } = await charger('keba-p30', { revertTimeoutS: 45 });
    expect(sim.setting('failsafeTimeout')).toBe(45);
    sim.plugIn(car);
    await sink.applySetpoint(sp('mb1/1', 10));
    expect(sim.setting('setChargingCurrent')).toBe(10);
    await advanceUntil(deps.clock, () => rec.last('evse.live')?.patch.status === 'Charging');
    expect(rec.last('evse.live')?.patch.powerW?.value).toBeCloseTo(10 * 3 * 230, 0);
    // A charger that ignores the write is caught by the read-back.
    sim.onSet = () => {};
    const err = await sink.applySetpoint(sp('mb1/1', 8)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModbusConfirmError);
    expect((err as Error).message).toMatch(/setChargingCurrent written 8, read back 10/);
  });

  it('Wallbox Quasar V2G: switches to remote control and follows a signed power set-point', async () => {
    const { sim, sink, deps, rec, physics, a } = await charger('wallbox-quasar');
    expect(rec.last('evse.spec')?.bidirectional).toBe(true);
    expect(sim.setting('controlMode')).toBe(1);
    expect(sim.setting('setpointType')).toBe(1);
    expect(sim.setting('autostartOnConnect')).toBe(1);
    expect(sim.setting('modbusIdleTimeout')).toBe(60);
    sim.plugIn({ ...car, phases: 1, bidirectional: true, responseDelayMs: 500, socPct: 80 });
    await sink.applySetpoint({ evseId: 'mb1/1', currentA: 0, powerW: -5000, phases: 1, reasons: [] });
    expect(sim.setting('powerSetpoint')).toBe(-5000);
    await advanceUntil(deps.clock, () => rec.last('evse.live')?.patch.powerW?.value === -5000);
    expect(physics.controllableW()).toBe(-5000);
    await sink.applySetpoint({ evseId: 'mb1/1', currentA: 16, powerW: 3680, phases: 1, reasons: [] });
    await advanceUntil(deps.clock, () => (rec.last('evse.live')?.patch.powerW?.value ?? 0) > 0);
    expect(rec.last('evse.live')?.patch.powerW?.value).toBeCloseTo(3680, 0);
    const dev = a.drivers.get('mb1') as ProfileDevice;
    expect(dev.values.soc).toBeGreaterThan(70);
  });

  it('ABB Terra AC: mA limit written with FC16 to a write-only register, confirmed at 4022h; gateway gone, it stops', async () => {
    const { sim, sink, deps, rec, a } = await charger('abb-terra-ac', { revertTimeoutS: 45 });
    // The communication timeout (4106h) is set from the gateway and confirmed through 4020h.
    expect(sim.setting('setCommunicationTimeout')).toBe(45);
    expect(rec.last('evse.live')?.patch.status).toBe('Available');
    sim.plugIn(car);
    await sink.applySetpoint(sp('mb1/1', 10));
    expect(sim.setting('setChargingCurrentLimit')).toBe(10);
    await advanceUntil(deps.clock, () => rec.last('evse.live')?.patch.status === 'Charging');
    const live = rec.last('evse.live')?.patch;
    expect(live?.powerW?.value).toBeCloseTo(10 * 3 * 230, 0);
    expect(live?.currentsA?.value[2]).toBeCloseTo(10, 2);
    const dev = a.drivers.get('mb1') as ProfileDevice;
    expect(dev.values.fallbackLimit).toBe(0xff); // no fallback limit written: ABB's default
    expect(dev.values.userSettableMaxCurrent).toBe(32);
    // Without a fallback limit the charger stops once the gateway has been silent for the timeout.
    await a.stop();
    deps.clock.advance(46_000);
    expect(sim.reverted).toBe(1);
    await advanceUntil(deps.clock, () => sim.powerW() === 0, 100, 10_000);
  });

  it('ABB Terra AC: a limit the charger does not take is caught at the read-back register', async () => {
    const { sim, sink } = await charger('abb-terra-ac');
    await sink.applySetpoint(sp('mb1/1', 12));
    sim.onSet = () => {};
    const err = await sink.applySetpoint(sp('mb1/1', 8)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModbusConfirmError);
    expect((err as Error).message).toMatch(/setChargingCurrentLimit written 8, read back 12/);
  });

  it('MENNEKES AMTRON Professional: HEMS limit in A with read-back, timeout written; gateway gone, the safe current', async () => {
    const { sim, sink, deps, rec, a } = await charger('mennekes-amtron-professional');
    expect(sim.setting('commTimeout')).toBe(60);
    sim.plugIn(car);
    // CP state B: connected, not charging.
    await advanceUntil(deps.clock, () => rec.last('evse.live')?.patch.status === 'SuspendedEV');
    await sink.applySetpoint(sp('mb1/1', 16));
    expect(sim.setting('hemsCurrentLimit')).toBe(16);
    await advanceUntil(deps.clock, () => rec.last('evse.live')?.patch.status === 'Charging');
    expect(rec.last('evse.live')?.patch.powerW?.value).toBeCloseTo(16 * 3 * 230, 0);
    const dev = a.drivers.get('mb1') as ProfileDevice;
    expect(dev.values.safeCurrent).toBe(6);
    await a.stop();
    deps.clock.advance(61_000);
    expect(sim.reverted).toBe(1);
    await advanceUntil(deps.clock, () => Math.abs(sim.powerW() - 6 * 3 * 230) < 1, 100, 10_000);
  });

  it('a charger that goes away is reported Offline with bad power', async () => {
    const { sim, deps, rec } = await charger('alfen-eve');
    await sim.stop();
    await advanceUntil(deps.clock, () => rec.last('device')?.online === false);
    expect(rec.last('evse.live')?.patch.status).toBe('Offline');
    expect(rec.last('evse.live')?.patch.powerW?.quality).toBe('bad');
  });
});

describe('read planning', () => {
  const profiles = loadProfiles();
  it('keeps each request within the device limit (a KEBA P40 configured to 2 registers) and merges where the map allows', () => {
    const keba = profiles.get('keba-p30');
    const sdm = profiles.get('eastron-sdm630');
    if (!keba || !sdm) throw new Error('profiles missing');
    // The P30 takes the merged reads evcc uses; the P40 is configured per device.
    expect(Math.max(...planReads(keba).map((b) => b.count))).toBeGreaterThan(2);
    const kebaBlocks = planReads(keba, 2);
    expect(kebaBlocks.length).toBeGreaterThan(5);
    for (const b of kebaBlocks) expect(b.count, `read at ${b.address}`).toBeLessThanOrEqual(2);
    // Every readable point is still read.
    expect(kebaBlocks.flatMap((b) => b.points).length).toBe(keba.points.filter((p) => p.access !== 'w').length);
    // The default limit lets a meter's adjacent registers go in one request.
    expect(Math.max(...planReads(sdm).map((b) => b.count))).toBeGreaterThan(2);
  });
});
