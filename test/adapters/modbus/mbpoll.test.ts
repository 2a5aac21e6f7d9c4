import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/model/clock.js';
import { SunSpecBatterySim, SunSpecInverterSim, SunSpecMeterSim } from '../../../sim/devices/modbus/sunspec-devices.js';
import { SitePhysics } from '../../../sim/site/physics.js';

const run = promisify(execFile);

/** mbpoll (Debian package `mbpoll`) as an independent Modbus master. */
async function mbpoll(args: string[]): Promise<string> {
  const { stdout } = await run('mbpoll', ['-m', 'tcp', '-1', '-0', ...args], { timeout: 10_000 });
  return stdout;
}

/** `[40001]: 0x5375` lines -> { 40001: '0x5375' } */
function values(out: string): Record<number, string> {
  const r: Record<number, string> = {};
  for (const m of out.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)) r[Number(m[1])] = m[2] as string;
  return r;
}

describe('SunSpec simulators read by mbpoll', () => {
  beforeAll(async () => {
    // Fail loudly: CI must install mbpoll (apt-get install -y mbpoll), a skip would hide the gap.
    await run('mbpoll', ['-V']).catch((e: unknown) => {
      throw new Error(`mbpoll is not installed (apt-get install -y mbpoll): ${String(e)}`);
    });
  });

  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const s of stops.splice(0)) await s();
  });

  it('meter: mbpoll -r 40001 -c 2 -t 4:hex shows 0x5375 0x6E53 ("SunS")', async () => {
    const clock = new VirtualClock();
    const physics = new SitePhysics({ clock, baseLoadW: 7000, baseLoadNoiseW: 0 });
    const meter = new SunSpecMeterSim({ physics });
    await meter.start();
    stops.push(() => meter.stop());
    // The acceptance command, 1-based references as a user types them.
    const { stdout } = await run(
      'mbpoll',
      ['-m', 'tcp', '-a', '1', '-r', '40001', '-c', '2', '-t', '4:hex', '-p', String(meter.port), '-1', '127.0.0.1'],
      { timeout: 10_000 },
    );
    expect(stdout).toMatch(/\[40001\]:\s+0x5375/);
    expect(stdout).toMatch(/\[40002\]:\s+0x6E53/);
    // Model 203 follows model 1 (66 + 2 registers): ID, L, and W at offset 18 with W_SF at 22.
    const v = values(
      await mbpoll(['-a', '1', '-r', '40070', '-c', '23', '-t', '4', '-p', String(meter.port), '127.0.0.1']),
    );
    expect(v[40070]).toBe('203');
    expect(v[40071]).toBe('105');
    expect(v[40088]).toBe('7000');
    expect(v[40092]).toBe('0');
  });

  it('inverter (103) and battery (124 + 802) expose their maps at the documented offsets', async () => {
    const clock = new VirtualClock();
    const physics = new SitePhysics({ clock, pvPeakW: 0 });
    physics.setPvOverride(3210);
    const inverter = new SunSpecInverterSim({ physics });
    const battery = new SunSpecBatterySim({ physics, clock, socPct: 55 });
    await inverter.start();
    stops.push(() => inverter.stop());
    await battery.start();
    stops.push(() => battery.stop());
    const iv = values(
      await mbpoll(['-a', '1', '-r', '40070', '-c', '17', '-t', '4', '-p', String(inverter.port), '127.0.0.1']),
    );
    expect(iv[40070]).toBe('103');
    expect(iv[40071]).toBe('50');
    expect(iv[40084]).toBe('3210'); // W at offset 14
    // Battery: 124 at 40070, 802 at 40096; SoC at 802 offset 11 with SoC_SF at 56.
    const b = values(
      await mbpoll(['-a', '1', '-r', '40096', '-c', '12', '-t', '4', '-p', String(battery.port), '127.0.0.1']),
    );
    expect(b[40096]).toBe('802');
    expect(b[40097]).toBe('62');
    expect(b[40107]).toBe('550');
    // Writing a read-only register is refused with an exception.
    const err = await run(
      'mbpoll',
      ['-m', 'tcp', '-0', '-1', '-a', '1', '-r', '40107', '-t', '4', '-p', String(battery.port), '127.0.0.1', '5'],
      { timeout: 10_000 },
    ).catch((e: { stdout?: string; stderr?: string }) => e);
    expect(`${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`).toMatch(
      /Illegal data address/i,
    );
  });
});
