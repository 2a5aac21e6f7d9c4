import { afterEach, describe, expect, it } from 'vitest';
import { type ModbusAdapter, createModbusAdapter } from '../../../adapters/modbus/index.js';
import { SunSpecNotFoundError, decodeModel, discover } from '../../../adapters/modbus/sunspec/client.js';
import { SUNSPEC_MODELS } from '../../../adapters/modbus/sunspec/models.js';
import { ModbusSchema } from '../../../src/config/sections/modbus.js';
import type { Setpoint } from '../../../src/model/decision.js';
import { VirtualClock } from '../../../src/model/clock.js';
import { ModbusSimServer } from '../../../sim/devices/modbus/server.js';
import { SunSpecBatterySim, SunSpecInverterSim, SunSpecMeterSim } from '../../../sim/devices/modbus/sunspec-devices.js';
import { SitePhysics } from '../../../sim/site/physics.js';
import { advanceUntil, linkTo, recorder, testDeps } from './helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function sp(powerW: number): Setpoint {
  return { evseId: 'battery', currentA: 0, powerW, phases: 3, reasons: [] };
}

describe('SunSpec discovery', () => {
  for (const base of [40000, 0, 50000]) {
    it(`finds SunS at ${base} and walks the model chain to 0xFFFF`, async () => {
      const clock = new VirtualClock();
      const physics = new SitePhysics({ clock });
      const sim = new SunSpecBatterySim({ physics, clock, base });
      await sim.start();
      cleanup.push(() => sim.stop());
      const { link } = linkTo(sim.port, clock);
      await link.start();
      cleanup.push(() => link.stop());
      const d = await discover(link, 1);
      expect(d.base).toBe(base);
      expect(d.models).toEqual([
        { id: 1, address: base + 2, length: 66 },
        { id: 124, address: base + 70, length: 24 },
        { id: 802, address: base + 96, length: 62 },
      ]);
    });
  }

  it('reports a device without a SunSpec map clearly', async () => {
    const server = new ModbusSimServer();
    server.unit(1).set('holding', 0, [1, 2]);
    await server.start();
    cleanup.push(() => server.stop());
    const clock = new VirtualClock();
    const { link } = linkTo(server.port, clock);
    await link.start();
    cleanup.push(() => link.stop());
    const err = await discover(link, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SunSpecNotFoundError);
    expect((err as Error).message).toMatch(/no SunS marker at 40000, 0, 50000/);
  });
});

describe('SunSpec decoding', () => {
  const meter = SUNSPEC_MODELS.get(203);
  if (!meter) throw new Error('model 203 missing');
  const block = () => {
    const regs = new Array<number>(107).fill(0);
    regs[0] = 203;
    regs[1] = 105;
    return regs;
  };

  it('applies scale factors, including negative values and factors', () => {
    const r = block();
    r[18] = 0xfb2e; // -1234
    r[22] = 1; // W_SF = 1
    r[3] = 1234;
    r[6] = 0xfffe; // A_SF = -2
    r[46] = 0x0001;
    r[47] = 0x0000; // TotWhImp = 65536
    r[54] = 0;
    const v = decodeModel(meter, r);
    expect(v.W).toBe(-12340);
    expect(v.AphA).toBeCloseTo(12.34, 6);
    expect(v.TotWhImp).toBe(65536);
  });

  it('treats not-implemented sentinels as missing, never as numbers', () => {
    const r = block();
    r[18] = 0x8000; // W not implemented
    r[22] = 0;
    r[3] = 100;
    r[6] = 0x8000; // A_SF not implemented -> currents missing
    r[16] = 5000;
    r[17] = 0xfffe;
    const v = decodeModel(meter, r);
    expect(v.W).toBeUndefined();
    expect(v.AphA).toBeUndefined();
    expect(v.Hz).toBe(50);
    const inv = SUNSPEC_MODELS.get(103);
    if (!inv) throw new Error('model 103 missing');
    const ri = new Array<number>(52).fill(0);
    ri[2] = 0xffff; // uint16 A not implemented
    ri[6] = 0;
    const vi = decodeModel(inv, ri);
    expect(vi.A).toBeUndefined();
    const fl = SUNSPEC_MODELS.get(113);
    if (!fl) throw new Error('model 113 missing');
    const rf = new Array<number>(62).fill(0);
    rf[22] = 0x7fc0; // float NaN
    rf[23] = 0;
    rf[24] = 0x4248; // 50.0
    expect(decodeModel(fl, rf).W).toBeUndefined();
    expect(decodeModel(fl, rf).Hz).toBe(50);
  });
});

describe('Modbus adapter with SunSpec simulators', () => {
  async function site() {
    const deps = testDeps();
    const physics = new SitePhysics({ clock: deps.clock, baseLoadW: 9000, baseLoadNoiseW: 0, pvPeakW: 0 });
    physics.setPvOverride(4000);
    const meter = new SunSpecMeterSim({ physics });
    const inverter = new SunSpecInverterSim({ physics });
    const battery = new SunSpecBatterySim({ physics, clock: deps.clock, socPct: 40, capacityWh: 100_000 });
    for (const s of [meter, inverter, battery]) {
      await s.start();
      cleanup.push(() => s.stop());
    }
    return { deps, physics, meter, inverter, battery };
  }

  function adapter(deps: ReturnType<typeof testDeps>, devices: unknown[]): ModbusAdapter {
    const cfg = ModbusSchema.parse({ devices, reconnect: { minMs: 1000, maxMs: 4000 } });
    const a = createModbusAdapter(cfg, deps);
    cleanup.push(() => a.stop());
    return a;
  }

  it('publishes grid, PV and battery readings with the site sign convention', async () => {
    const { deps, physics, meter, inverter, battery } = await site();
    const rec = recorder(deps.bus);
    const a = adapter(deps, [
      { id: 'grid-meter', role: 'grid', port: meter.port, pollMs: 500 },
      { id: 'pv', role: 'pv', port: inverter.port, pollMs: 500 },
      { id: 'battery', role: 'battery', port: battery.port, pollMs: 500 },
    ]);
    await a.start();
    expect(a.links.size).toBe(3);
    await advanceUntil(
      deps.clock,
      () => rec.of('grid').length > 0 && rec.of('pv').length > 0 && rec.of('battery').length > 0,
    );
    const grid = rec.last('grid');
    expect(grid?.powerW?.value).toBe(physics.gridPowerW()); // 9000 - 4000
    expect(grid?.powerW?.value).toBe(5000);
    expect(grid?.powerW?.source).toBe('grid-meter');
    expect(grid?.powerW?.quality).toBe('good');
    expect(grid?.currentsA?.value[0]).toBeCloseTo(5000 / 3 / 230, 2);
    expect(rec.last('pv')?.powerW?.value).toBe(4000);
    expect(rec.last('battery')?.socPct?.value).toBeCloseTo(40, 1);
    expect(rec.last('battery')?.powerW?.value).toBe(0);
    const online = rec
      .of('device')
      .filter((d) => d.online)
      .map((d) => d.id);
    expect(new Set(online)).toEqual(new Set(['grid-meter', 'pv', 'battery']));
    // Export: PV above the load gives a negative grid reading.
    physics.setPvOverride(15_000);
    const n = rec.of('grid').length;
    await advanceUntil(deps.clock, () => rec.of('grid').length > n + 1);
    expect(rec.last('grid')?.powerW?.value).toBe(-6000);
  });

  it('reads scale factors with the values when the device changes them at run time', async () => {
    const { deps, meter } = await site();
    meter.frozen = true;
    meter.meter.setRaw('W', 12345);
    meter.meter.setRaw('W_SF', -1);
    const rec = recorder(deps.bus);
    const a = adapter(deps, [{ id: 'm', role: 'grid', port: meter.port, pollMs: 200 }]);
    await a.start();
    await advanceUntil(deps.clock, () => rec.of('grid').length > 0);
    expect(rec.last('grid')?.powerW?.value).toBe(1234.5);
    meter.meter.setRaw('W', 1235);
    meter.meter.setRaw('W_SF', 1);
    const n = rec.of('grid').length;
    await advanceUntil(deps.clock, () => rec.of('grid').length > n);
    expect(rec.last('grid')?.powerW?.value).toBe(12350);
    // Not implemented: the reading is left out, not published as -32768.
    meter.meter.clear('W');
    const m = rec.of('grid').length;
    await advanceUntil(deps.clock, () => rec.of('grid').length > m);
    expect(rec.last('grid')?.powerW).toBeUndefined();
  });

  it('marks an unreachable meter offline with bad readings, and recovers when it returns', async () => {
    const { deps, meter } = await site();
    const rec = recorder(deps.bus);
    const port = meter.port;
    const a = adapter(deps, [{ id: 'grid-meter', role: 'grid', port, pollMs: 500, timeoutMs: 300 }]);
    await a.start();
    await advanceUntil(deps.clock, () => rec.of('grid').length > 0);
    await meter.stop();
    await advanceUntil(deps.clock, () => rec.last('device')?.online === false);
    const off = rec.last('device');
    expect(off?.id).toBe('grid-meter');
    expect(off?.protocol).toBe('modbus');
    expect(off?.kind).toBe('meter');
    expect(off?.error).toMatch(/closed|not connected|no response/);
    expect(rec.last('grid')?.powerW?.quality).toBe('bad');
    // Nothing good is published while it is away.
    const goodBefore = rec.of('grid').filter((g) => g.powerW?.quality === 'good').length;
    deps.clock.advance(5000);
    expect(rec.of('grid').filter((g) => g.powerW?.quality === 'good').length).toBe(goodBefore);
    const again = new SunSpecMeterSim({ physics: new SitePhysics({ clock: deps.clock }), port });
    await again.start();
    cleanup.push(() => again.stop());
    await advanceUntil(deps.clock, () => rec.last('device')?.online === true, 200, 60_000);
    expect(rec.last('grid')?.powerW?.quality).toBe('good');
  });

  it('a dead unit on a shared link does not stop the meter behind the same link', async () => {
    const { deps, meter } = await site();
    meter.server.unit(7).silent = true;
    const rec = recorder(deps.bus);
    const a = adapter(deps, [
      { id: 'grid-meter', role: 'grid', port: meter.port, pollMs: 1000, timeoutMs: 500 },
      { id: 'sub-meter', role: 'load', port: meter.port, unitId: 7, pollMs: 1000, timeoutMs: 500 },
    ]);
    await a.start();
    expect(a.links.size).toBe(1);
    await advanceUntil(deps.clock, () => rec.of('device').some((d) => d.id === 'sub-meter' && !d.online));
    const before = rec.of('grid').length;
    const t0 = deps.clock.now();
    await advanceUntil(deps.clock, () => deps.clock.now() - t0 >= 20_000);
    // One reading per second despite the dead neighbour (which is probed with back-off).
    expect(rec.of('grid').length - before).toBeGreaterThanOrEqual(17);
    expect(a.devices.get('grid-meter')?.isOnline).toBe(true);
    expect(a.devices.get('sub-meter')?.isOnline).toBe(false);
  });

  it('a device answering with exception codes goes offline with the code in its status', async () => {
    const { deps, meter } = await site();
    const rec = recorder(deps.bus);
    const a = adapter(deps, [{ id: 'grid-meter', role: 'grid', port: meter.port, pollMs: 500 }]);
    await a.start();
    await advanceUntil(deps.clock, () => rec.of('grid').length > 0);
    meter.unit.forceException = 4;
    await advanceUntil(deps.clock, () => rec.last('device')?.online === false);
    expect(rec.last('device')?.error).toMatch(/exception 4 \(server device failure\)/);
    const text = await deps.metrics.metrics();
    expect(text).toMatch(/gridkeeper_modbus_errors_total\{link="tcp:\/\/127.0.0.1:\d+",code="exception_4"\} \d/);
    expect(text).toMatch(/gridkeeper_modbus_device_online\{device="grid-meter"\} 0/);
  });

  it('battery takes charge/discharge set-points through model 124, confirmed, and reverts without the gateway', async () => {
    const { deps, battery, physics } = await site();
    const rec = recorder(deps.bus);
    const a = adapter(deps, [{ id: 'battery', role: 'battery', port: battery.port, pollMs: 500, revertTimeoutS: 30 }]);
    await a.start();
    await advanceUntil(deps.clock, () => rec.of('battery').length > 0);
    const sink = deps.dispatcher.sinks.get('battery:battery');
    if (!sink) throw new Error('battery sink not registered');
    await sink.applySetpoint(sp(10_000));
    expect(battery.currentPowerW).toBe(10_000);
    expect(physics.controllableW()).toBe(10_000);
    await sink.applySetpoint(sp(-5_000));
    expect(battery.currentPowerW).toBe(-5_000);
    await advanceUntil(deps.clock, () => rec.last('battery')?.powerW?.value === -5000);
    // The gateway goes quiet: the battery reverts to idle after RvrtTms.
    await a.stop();
    deps.clock.advance(31_000);
    expect(battery.currentPowerW).toBe(0);
  });
});
