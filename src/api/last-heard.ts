import type { GatewayBus } from '../bus/events.js';

/** When each sub-metered load device last sent a reading (by device id). */
export interface LastHeard {
  at(id: string): number | undefined;
  stop(): void;
}

/**
 * Loads (building, HVAC) are reported on the bus but kept nowhere in the process image, and their
 * adapter reports the device itself only when it comes and goes: without this the API's
 * `lastSeen` of such a device would stop at the moment it came online.
 */
export function trackLoadReadings(bus: Pick<GatewayBus, 'on'>): LastHeard {
  const heard = new Map<string, number>();
  const off = bus.on('load', (l) => {
    const ts = Math.max(l.powerW?.ts ?? 0, l.energyWh?.ts ?? 0);
    if (ts > (heard.get(l.id) ?? 0)) heard.set(l.id, ts);
  });
  return { at: (id) => heard.get(id), stop: off };
}
