import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createModbusAdapter } from '../../../adapters/modbus/index.js';
import { ModbusSchema } from '../../../src/config/sections/modbus.js';
import { ProfileMeterSim } from '../../../sim/devices/modbus/profile-sim.js';
import { SunSpecMeterSim } from '../../../sim/devices/modbus/sunspec-devices.js';
import { SitePhysics } from '../../../sim/site/physics.js';
import { advanceUntil, recorder, testDeps } from './helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function rtuSite() {
  const deps = testDeps();
  const physics = new SitePhysics({ clock: deps.clock, baseLoadW: 6000, baseLoadNoiseW: 0 });
  const meter = new SunSpecMeterSim({ physics, framing: 'rtu' });
  // A second meter on the same bus, unit 2, like two devices on one RS-485 line.
  const sub = new ProfileMeterSim({ device: 'eastron-sdm630', physics, server: meter.server, unitId: 2 });
  await meter.start();
  cleanup.push(() => meter.stop());
  return { deps, physics, meter, sub };
}

describe('Modbus RTU', () => {
  it('RTU frames over TCP (serial-to-Ethernet converter): two units on one line', async () => {
    const { deps, meter } = await rtuSite();
    const rec = recorder(deps.bus);
    const cfg = ModbusSchema.parse({
      links: [{ id: 'rs485-gw', transport: 'rtuovertcp', host: '127.0.0.1', port: meter.port }],
      devices: [
        { id: 'grid-meter', role: 'grid', link: 'rs485-gw', unitId: 1 },
        { id: 'sub', role: 'load', link: 'rs485-gw', unitId: 2, profile: 'eastron-sdm630' },
      ],
    });
    const a = createModbusAdapter(cfg, deps);
    cleanup.push(() => a.stop());
    await a.start();
    expect([...a.links.keys()]).toEqual(['rs485-gw']);
    await advanceUntil(deps.clock, () => rec.of('grid').length > 0 && (a.devices.get('sub')?.polls ?? 0) > 0);
    expect(rec.last('grid')?.powerW?.value).toBe(6000);
    expect(a.devices.get('sub')?.isOnline).toBe(true);
  });

  describe('serial port (pty bridged by socat to the simulator)', () => {
    beforeAll(() => {
      // Fail loudly when socat is missing (apt-get install -y socat); a skip would hide the gap in CI.
      try {
        execFileSync('socat', ['-V'], { stdio: 'ignore' });
      } catch (e) {
        throw new Error(`socat is not installed (apt-get install -y socat): ${String(e)}`);
      }
    });

    it('reads a SunSpec meter and an Eastron meter through a real serial device with modbus-serial', async () => {
      const { deps, meter } = await rtuSite();
      const dir = mkdtempSync(join(tmpdir(), 'gk-rtu-'));
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const tty = join(dir, 'ttyGK0');
      const socat: ChildProcess = spawn('socat', [`pty,raw,echo=0,link=${tty}`, `tcp:127.0.0.1:${meter.port}`], {
        stdio: 'ignore',
      });
      cleanup.push(
        () =>
          new Promise<void>((resolve) => {
            if (socat.exitCode !== null) return resolve();
            socat.once('exit', () => resolve());
            socat.kill('SIGTERM');
          }),
      );
      for (let i = 0; i < 200 && !existsSync(tty); i++) await new Promise((r) => setTimeout(r, 10));
      expect(existsSync(tty)).toBe(true);
      const rec = recorder(deps.bus);
      const cfg = ModbusSchema.parse({
        links: [{ id: 'rs485', transport: 'rtu', path: tty, baudRate: 19200, parity: 'even', timeoutMs: 1000 }],
        devices: [
          { id: 'grid-meter', role: 'grid', link: 'rs485', unitId: 1 },
          { id: 'sub', role: 'load', link: 'rs485', unitId: 2, profile: 'eastron-sdm630' },
        ],
      });
      const a = createModbusAdapter(cfg, deps);
      cleanup.push(() => a.stop());
      await a.start();
      expect(a.links.get('rs485')?.isConnected).toBe(true);
      await advanceUntil(deps.clock, () => rec.of('grid').length > 1 && (a.devices.get('sub')?.polls ?? 0) > 0, 50);
      expect(rec.last('grid')?.powerW?.value).toBe(6000);
      expect(a.devices.get('sub')?.isOnline).toBe(true);
    });
  });

  it('config: an rtu link needs a serial path', () => {
    const r = ModbusSchema.safeParse({ links: [{ id: 'x', transport: 'rtu' }] });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['links', 0, 'path']);
  });
});
