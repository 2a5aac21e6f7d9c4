import type { GatewayBus, GatewayEvents } from '../../src/bus/events.js';

/** Every payload of `event` the bus emits from now on, in order (the array fills as the test runs). */
export function recordEvents<K extends keyof GatewayEvents>(bus: GatewayBus, event: K): GatewayEvents[K][] {
  const out: GatewayEvents[K][] = [];
  bus.on(event, (p) => out.push(p));
  return out;
}
