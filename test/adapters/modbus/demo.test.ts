import { afterEach, describe, expect, it } from 'vitest';
import { createModbusAdapter } from '../../../adapters/modbus/index.js';
import { ModbusSchema } from '../../../src/config/sections/modbus.js';
import { createModbusDemo } from '../../../sim/devices/modbus/demo.js';
import { SitePhysics } from '../../../sim/site/physics.js';
import { advanceUntil, recorder, testDeps } from './helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('Modbus demo set (what `gridkeeper demo` starts)', () => {
  it.each([
    ['answering at once', 0],
    ['answering after 80 ms like devices on a real LAN', 80],
  ])('starts every simulator %s, the adapter sees all devices online; stop leaves no timers', async (_n, delay) => {
    const deps = testDeps();
    const physics = new SitePhysics({ clock: deps.clock, pvPeakW: 0 });
    physics.setPvOverride(5000);
    const demo = createModbusDemo({
      clock: deps.clock,
      physics,
      meterPort: 0,
      pvPort: 0,
      batteryPort: 0,
      chargerPorts: [0, 0, 0],
      responseDelayMs: delay,
    });
    for (const p of demo.parts) {
      await p.start();
      cleanup.push(() => p.stop());
    }
    expect(demo.parts.map((p) => p.where).every((w) => /^modbus tcp:\/\/127\.0\.0\.1:\d+ unit 1/.test(w))).toBe(true);
    const rec = recorder(deps.bus);
    const adapter = createModbusAdapter(ModbusSchema.parse({ devices: demo.devices() }), deps);
    await adapter.start();
    await advanceUntil(deps.clock, () => [...adapter.devices.values()].every((d) => d.isOnline));
    expect([...adapter.devices.keys()]).toEqual([
      'grid-meter',
      'pv-inverter',
      'battery',
      'mb-alfen',
      'mb-keba',
      'mb-quasar',
    ]);
    expect(rec.of('evse.spec').map((s) => s.id)).toEqual(['mb-alfen/1', 'mb-keba/1', 'mb-quasar/1']);
    expect(rec.last('pv')?.powerW?.value).toBe(5000);
    expect(rec.last('battery')?.socPct?.value).toBe(60);
    expect([...deps.dispatcher.sinks.keys()].sort()).toEqual([
      'battery:battery',
      'mb-alfen/1',
      'mb-keba/1',
      'mb-quasar/1',
    ]);
    // Stop lets a poll in flight finish; with delayed devices its answer needs virtual time to pass.
    let stopped = false;
    const stopping = adapter.stop().then(() => {
      stopped = true;
    });
    await advanceUntil(deps.clock, () => stopped, 20, 5000);
    await stopping;
    for (const p of [...demo.parts].reverse()) await p.stop();
    cleanup.splice(0);
    expect(deps.dispatcher.sinks.size).toBe(0);
    expect(deps.clock.pending()).toBe(0);
  });
});
