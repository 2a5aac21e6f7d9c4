import { afterEach, describe, expect, it } from 'vitest';
import { ModbusConnectionError, ModbusExceptionError, ModbusTimeoutError } from '../../../adapters/modbus/errors.js';
import type { ModbusLink } from '../../../adapters/modbus/link.js';
import { VirtualClock } from '../../../src/model/clock.js';
import { ModbusSimServer } from '../../../sim/devices/modbus/server.js';
import { advanceUntil, linkTo } from './helpers.js';

describe('ModbusLink (TCP, against the simulator server)', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function setup() {
    const server = new ModbusSimServer();
    server.unit(1).set('holding', 100, [1, 2, 3, 4]);
    server.unit(1).set('input', 0, [7, 8]);
    server.unit(2).set('holding', 100, [21, 22]);
    server.unit(1).allowWrite(100, 2);
    await server.start();
    cleanup.push(() => server.stop());
    const clock = new VirtualClock();
    const { link, registry } = linkTo(server.port, clock);
    await link.start();
    cleanup.push(() => link.stop());
    return { server, clock, link, registry };
  }

  it('reads holding and input registers of several units over one connection', async () => {
    const { link } = await setup();
    expect(link.isConnected).toBe(true);
    const [a, b, c] = await Promise.all([
      link.read(1, 'holding', 100, 4),
      link.read(1, 'input', 0, 2),
      link.read(2, 'holding', 100, 2),
    ]);
    expect(a).toEqual([1, 2, 3, 4]);
    expect(b).toEqual([7, 8]);
    expect(c).toEqual([21, 22]);
  });

  it('writes with FC16 and FC06 and refuses read-only registers with exception 2', async () => {
    const { link, server } = await setup();
    await link.write(1, 100, [11, 12]);
    await link.write(1, 101, [13], { single: true });
    expect(server.unit(1).get('holding', 100, 2)).toEqual([11, 13]);
    const err = await link.write(1, 102, [1]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModbusExceptionError);
    expect((err as ModbusExceptionError).exceptionCode).toBe(2);
  });

  it('surfaces exception codes with their meaning and counts them by code', async () => {
    const { link, server, registry } = await setup();
    const err = await link.read(1, 'holding', 5000, 2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModbusExceptionError);
    expect((err as Error).message).toMatch(/exception 2 \(illegal data address\)/);
    server.unit(1).forceException = 4;
    const err4 = await link.read(1, 'holding', 100, 1).catch((e: unknown) => e);
    expect((err4 as Error).message).toMatch(/exception 4 \(server device failure\)/);
    const text = await registry.metrics();
    expect(text).toMatch(/gridkeeper_modbus_errors_total\{link="test-link",code="exception_2"\} 1/);
    expect(text).toMatch(/gridkeeper_modbus_errors_total\{link="test-link",code="exception_4"\} 1/);
    expect(text).toMatch(/gridkeeper_modbus_requests_total\{link="test-link",fc="3"\} 2/);
  });

  it('a silent unit times out on the injected clock without blocking the other unit', async () => {
    const { link, server, clock } = await setup();
    server.unit(2).silent = true;
    let deadErr: unknown;
    const dead = link.read(2, 'holding', 100, 2).catch((e: unknown) => {
      deadErr = e;
    });
    let alive: number[] | undefined;
    const ok = link.read(1, 'holding', 100, 1).then((v) => {
      alive = v;
    });
    // Nothing answers for unit 2 until its timeout passes on the virtual clock.
    await new Promise((r) => setTimeout(r, 20));
    expect(deadErr).toBeUndefined();
    expect(alive).toBeUndefined();
    clock.advance(500);
    await dead;
    await ok;
    expect(deadErr).toBeInstanceOf(ModbusTimeoutError);
    expect((deadErr as Error).message).toMatch(/unit 2 .*no response within 500 ms/);
    expect(alive).toEqual([1]);
    expect(link.isConnected).toBe(true);
  });

  it('fails fast while disconnected and reconnects with back-off when the device returns', async () => {
    const server = new ModbusSimServer();
    server.unit(1).set('holding', 0, [42]);
    await server.start();
    const port = server.port;
    const clock = new VirtualClock();
    const { link } = linkTo(port, clock);
    cleanup.push(() => link.stop());
    await link.start();
    expect(await link.read(1, 'holding', 0, 1)).toEqual([42]);
    const states: boolean[] = [];
    link.onConnection((c) => states.push(c));
    await server.stop();
    await advanceUntil(clock, () => !link.isConnected, 10, 1000);
    const err = await link.read(1, 'holding', 0, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModbusConnectionError);
    // Come back on the same port; the link finds it on a back-off retry.
    const again = new ModbusSimServer({ port });
    again.unit(1).set('holding', 0, [43]);
    await again.start();
    cleanup.push(() => again.stop());
    await advanceUntil(clock, () => link.isConnected, 100, 20_000);
    expect(await link.read(1, 'holding', 0, 1)).toEqual([43]);
    expect(states).toEqual([false, true]);
  });

  it('an unreachable endpoint never throws out of start() and keeps retrying', async () => {
    const probe = new ModbusSimServer();
    await probe.start();
    const port = probe.port;
    await probe.stop();
    const clock = new VirtualClock();
    const { link }: { link: ModbusLink } = linkTo(port, clock);
    cleanup.push(() => link.stop());
    await link.start();
    expect(link.isConnected).toBe(false);
    expect(clock.pending()).toBe(1); // the reconnect timer
    const err = await link.read(1, 'holding', 0, 1).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/not connected/);
  });
});

describe('ModbusLink request gap', () => {
  it('waits gapMs on the clock between two requests (devices that need a pause)', async () => {
    const server = new ModbusSimServer();
    server.unit(1).set('holding', 0, [1]);
    await server.start();
    const clock = new VirtualClock();
    const { link } = linkTo(server.port, clock, { gapMs: 200 });
    try {
      await link.start();
      const first = link.read(1, 'holding', 0, 1);
      let second = false;
      const next = link.read(1, 'holding', 0, 1).then(() => {
        second = true;
      });
      await first;
      await new Promise((r) => setTimeout(r, 20));
      expect(second).toBe(false);
      expect(server.requests).toBe(1);
      clock.advance(200);
      await next;
      expect(server.requests).toBe(2);
    } finally {
      await link.stop();
      await server.stop();
    }
    expect(clock.pending()).toBe(0);
  });
});

describe('one connection per endpoint', () => {
  it('several devices behind a one-client-only device share the single connection', async () => {
    const { createModbusAdapter } = await import('../../../adapters/modbus/index.js');
    const { ModbusSchema } = await import('../../../src/config/sections/modbus.js');
    const { testDeps } = await import('./helpers.js');
    const server = new ModbusSimServer({ maxConnections: 1 });
    const { SunSpecMapBuilder } = await import('../../../sim/devices/modbus/sunspec-map.js');
    for (const unit of [1, 2, 3]) {
      const map = new SunSpecMapBuilder(server.unit(unit));
      map.add(1);
      const m = map.add(203);
      m.setScaled('W', unit * 1000, 0);
      map.end();
    }
    await server.start();
    const deps = testDeps();
    const a = createModbusAdapter(
      ModbusSchema.parse({
        devices: [1, 2, 3].map((u) => ({ id: `m${u}`, role: u === 1 ? 'grid' : 'load', port: server.port, unitId: u })),
      }),
      deps,
    );
    try {
      await a.start();
      await advanceUntil(deps.clock, () => [...a.devices.values()].every((d) => d.isOnline));
      expect(a.links.size).toBe(1);
      expect(server.refused).toBe(0);
    } finally {
      await a.stop();
      await server.stop();
    }
  });
});
