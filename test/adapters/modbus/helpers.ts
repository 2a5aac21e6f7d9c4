import { Registry } from 'prom-client';
import { type GatewayBus, type GatewayEvents, createGatewayBus } from '../../../src/bus/events.js';
import type { SetpointSink } from '../../../src/model/adapter.js';
import { VirtualClock } from '../../../src/model/clock.js';
import { silentLogger } from '../../../src/util/logger.js';
import { ModbusLink } from '../../../adapters/modbus/link.js';
import { createModbusMetrics } from '../../../adapters/modbus/metrics.js';

export function linkTo(
  port: number,
  clock: VirtualClock,
  extra: Partial<ConstructorParameters<typeof ModbusLink>[0]> = {},
) {
  const registry = new Registry();
  const metrics = createModbusMetrics(registry);
  const link = new ModbusLink(
    {
      id: 'test-link',
      transport: 'tcp',
      host: '127.0.0.1',
      port,
      timeoutMs: 500,
      reconnectMinMs: 1000,
      reconnectMaxMs: 8000,
      ...extra,
    },
    { clock, log: silentLogger(), metrics },
  );
  return { link, registry, metrics };
}

/** Collects every bus event, newest last. */
export function recorder(bus: GatewayBus) {
  const events: Array<{ [K in keyof GatewayEvents]: { type: K; payload: GatewayEvents[K] } }[keyof GatewayEvents]> = [];
  const types: Array<keyof GatewayEvents> = ['grid', 'pv', 'battery', 'evse.spec', 'evse.live', 'device'];
  for (const t of types) bus.on(t, (payload) => events.push({ type: t, payload } as never));
  return {
    events,
    of<K extends keyof GatewayEvents>(type: K): GatewayEvents[K][] {
      return events.filter((e) => e.type === type).map((e) => e.payload as GatewayEvents[K]);
    },
    last<K extends keyof GatewayEvents>(type: K): GatewayEvents[K] | undefined {
      const all = this.of(type);
      return all[all.length - 1];
    },
  };
}

export function fakeDispatcher() {
  const sinks = new Map<string, SetpointSink>();
  return {
    sinks,
    registerSink(key: string, sink: SetpointSink) {
      sinks.set(key, sink);
      return () => sinks.delete(key);
    },
  };
}

export function testDeps() {
  const clock = new VirtualClock();
  const bus = createGatewayBus((event, err) => {
    throw new Error(`bus handler for ${event} threw: ${String(err)}`);
  });
  return { clock, bus, log: silentLogger(), metrics: new Registry(), dispatcher: fakeDispatcher() };
}

/** Advance the virtual clock in small steps, letting real socket I/O run in between, until `cond` holds. */
export async function advanceUntil(clock: VirtualClock, cond: () => boolean, stepMs = 100, maxMs = 60_000) {
  for (let t = 0; t <= maxMs; t += stepMs) {
    if (cond()) return;
    clock.advance(stepMs);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 2));
  }
  if (!cond()) throw new Error(`condition not reached within ${maxMs} virtual ms`);
}
