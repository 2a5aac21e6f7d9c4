import { type Socket, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type RegisterType, decodeNumber } from '../../../adapters/modbus/codec.js';
import { ModbusExceptionError, ModbusTimeoutError } from '../../../adapters/modbus/errors.js';
import { VirtualClock } from '../../../src/model/clock.js';
import { ModbusChargerSim } from '../../../sim/devices/modbus/charger-sim.js';
import { MeterSim } from '../../../sim/devices/modbus/mapped-device.js';
import {
  type SimRegisterType,
  decodeRaw,
  encodeRaw,
  isNotImplemented,
  notImplemented,
} from '../../../sim/devices/modbus/registers.js';
import { ModbusSimServer } from '../../../sim/devices/modbus/server.js';
import { SitePhysics } from '../../../sim/site/physics.js';
import { linkTo } from './helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe("the simulators' own register encoding", () => {
  // Written apart from the gateway's codec; each must read what the other writes.
  const cases: Array<[SimRegisterType & RegisterType, number]> = [
    ['int16', -1234],
    ['uint16', 54321],
    ['int32', -2_000_000],
    ['uint32', 3_000_000_000],
    ['acc32', 123_456_789],
    ['float32', 230.5],
    ['float32', -7400.25],
    ['sunssf', -2],
  ];

  it.each(cases)('%s %d is decoded by the gateway codec to the same value, in both word orders', (type, v) => {
    expect(decodeNumber(encodeRaw(type, v), type)).toBeCloseTo(v, 3);
    expect(decodeNumber(encodeRaw(type, v, 'low-first'), type, { wordOrder: 'little' })).toBeCloseTo(v, 3);
    expect(decodeRaw(type, encodeRaw(type, v, 'low-first'), 'low-first')).toBeCloseTo(v, 3);
  });

  it('swapped word order really swaps the words', () => {
    expect(encodeRaw('uint32', 0x12345678)).toEqual([0x1234, 0x5678]);
    expect(encodeRaw('uint32', 0x12345678, 'low-first')).toEqual([0x5678, 0x1234]);
  });

  it('clamps integers to their type instead of wrapping', () => {
    expect(encodeRaw('int16', 40_000)).toEqual([0x7fff]);
    expect(encodeRaw('uint16', -5)).toEqual([0]);
  });

  it('"not implemented" values are the SunSpec sentinels, and the gateway reads them as missing', () => {
    for (const t of ['int16', 'uint16', 'int32', 'uint32', 'sunssf', 'enum16'] as const) {
      expect(isNotImplemented(t, notImplemented(t)), t).toBe(true);
      expect(decodeNumber(notImplemented(t), t, { sunspecSentinels: true }), t).toBeUndefined();
    }
    expect(decodeNumber(notImplemented('float32'), 'float32')).toBeUndefined();
    // An empty accumulator is a count of 0, not a missing point.
    expect(isNotImplemented('acc32', notImplemented('acc32'))).toBe(false);
    expect(isNotImplemented('int16', [0])).toBe(false);
  });
});

describe('simulated device habits', () => {
  async function server(extra: ConstructorParameters<typeof ModbusSimServer>[0] = {}) {
    const s = new ModbusSimServer(extra);
    s.unit(1).set('holding', 0, [42]);
    await s.start();
    cleanup.push(() => s.stop());
    return s;
  }

  it('answers after its response time on the injected clock, and a client with a shorter timeout gives up', async () => {
    const clock = new VirtualClock();
    const s = await server({ clock, responseDelayMs: 300 });
    const { link } = linkTo(s.port, clock, { timeoutMs: 500 });
    await link.start();
    cleanup.push(() => link.stop());
    let got: number[] | undefined;
    const read = link.read(1, 'holding', 0, 1).then((r) => {
      got = r;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toBeUndefined();
    clock.advance(300);
    await read;
    expect(got).toEqual([42]);

    const slow = await server({ clock, responseDelayMs: () => 800 });
    const { link: impatient } = linkTo(slow.port, clock, { timeoutMs: 500 });
    await impatient.start();
    cleanup.push(() => impatient.stop());
    const late = impatient.read(1, 'holding', 0, 1).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    clock.advance(500);
    expect(await late).toBeInstanceOf(ModbusTimeoutError);
  });

  it('works off pipelined requests one after another, so answers keep their order', async () => {
    const clock = new VirtualClock();
    const s = await server({ clock, responseDelayMs: 300 });
    const sock = await open(s.port);
    const answers: number[] = [];
    sock.on('data', (b: Buffer) => {
      for (let i = 0; i + 9 <= b.length; i += 11) answers.push(b.readUInt16BE(i));
    });
    // Two FC03 requests (transaction ids 1 and 2) in one write, as a pipelining client sends them.
    const req = (tid: number) => Buffer.from([0, tid, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1]);
    sock.write(Buffer.concat([req(1), req(2)]));
    const settle = () => new Promise((r) => setTimeout(r, 30));
    await settle();
    clock.advance(300);
    await settle();
    expect(answers).toEqual([1]);
    clock.advance(300);
    await settle();
    expect(answers).toEqual([1, 2]);
  });

  it('a response time without a clock is a configuration error', () => {
    expect(() => new ModbusSimServer({ responseDelayMs: 10 })).toThrow(/needs a clock/);
  });

  async function open(port: number): Promise<Socket> {
    const sock = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    cleanup.push(() => void sock.destroy());
    return sock;
  }
  const closed = (sock: Socket) => new Promise<void>((resolve) => sock.once('close', () => resolve()));

  it('one client only: refuses the second, or drops the first for it', async () => {
    const refusing = await server({ maxConnections: 1 });
    const a = await open(refusing.port);
    const b = await open(refusing.port);
    await closed(b);
    expect(a.destroyed).toBe(false);
    expect(refusing.refused).toBe(1);

    const replacing = await server({ maxConnections: 1, whenFull: 'replace' });
    const c = await open(replacing.port);
    const cClosed = closed(c);
    const d = await open(replacing.port);
    await cClosed;
    expect(d.destroyed).toBe(false);
  });
});

describe('simulated register-mapped devices', () => {
  it('SDM630: energy in float kWh at 0x0048, a point without a value reads NaN', async () => {
    const clock = new VirtualClock();
    const physics = new SitePhysics({ clock, baseLoadW: 4000, baseLoadNoiseW: 0, pvPeakW: 0 });
    physics.importWh = 2_500_000;
    const sim = new MeterSim({ device: 'eastron-sdm630', physics });
    sim.refresh();
    expect(decodeNumber(sim.unit.get('input', 0x0048, 2) ?? [], 'float32')).toBeCloseTo(2500, 3);
    expect(decodeNumber(sim.unit.get('input', 0x0034, 2) ?? [], 'float32')).toBeCloseTo(4000, 3);
    const provide = sim.provide;
    sim.provide = (q, p) => (q === 'frequency' ? undefined : provide(q, p));
    sim.refresh();
    expect(sim.unit.get('input', 0x0046, 2)).toEqual([0x7fc0, 0]);
    // Outside the documented register blocks the device answers exception 2.
    expect(sim.unit.get('input', 0x0100, 2)).toBeUndefined();
  });

  async function charger(device: string) {
    const clock = new VirtualClock();
    const physics = new SitePhysics({ clock, baseLoadNoiseW: 0 });
    const sim = new ModbusChargerSim({ device, physics, clock });
    await sim.start();
    cleanup.push(() => sim.stop());
    const { link } = linkTo(sim.port, clock);
    await link.start();
    cleanup.push(() => link.stop());
    return { sim, link, clock };
  }

  it('Wallbox Quasar: refuses a power set-point until remote control with power set-points is selected', async () => {
    const { sim, link } = await charger('wallbox-quasar');
    const err = await link.write(1, 0x0104, encodeRaw('int16', -3000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModbusExceptionError);
    expect((err as ModbusExceptionError).exceptionCode).toBe(4);
    await link.write(1, 0x0051, [1]);
    await link.write(1, 0x0053, [1]);
    await link.write(1, 0x0104, encodeRaw('int16', -3000));
    expect(sim.setting('powerSetpoint')).toBe(-3000);
    // No vehicle: the SoC register reads 0, which the Quasar uses for "not available".
    expect(await link.read(1, 'holding', 0x021a, 1)).toEqual([0]);
    // Registers between the documented ones do not exist.
    const gap = await link.read(1, 'holding', 0x0054, 1).catch((e: unknown) => e);
    expect((gap as ModbusExceptionError).exceptionCode).toBe(2);
  });

  it('Alfen-like: the max current is valid for 60 s, counts down, then falls back to the safe current', async () => {
    const { sim, link, clock } = await charger('alfen-eve');
    await link.write(1, 1210, encodeRaw('float32', 20));
    clock.advance(15_000);
    const [valid, applied] = await Promise.all([link.read(1, 'holding', 1208, 2), link.read(1, 'holding', 1206, 2)]);
    expect(decodeNumber(valid, 'uint32')).toBe(45);
    expect(decodeNumber(applied, 'float32')).toBe(20);
    clock.advance(45_000);
    expect(sim.reverted).toBe(1);
    expect(decodeNumber(await link.read(1, 'holding', 1206, 2), 'float32')).toBe(6);
    const out = await link.write(1, 1210, encodeRaw('float32', 40)).catch((e: unknown) => e);
    expect((out as ModbusExceptionError).exceptionCode).toBe(3);
  });
});
