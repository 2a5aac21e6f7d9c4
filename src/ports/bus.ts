import type { GatewayEvents } from '../model/events.js';

/**
 * What a component may do with the gateway's bus: publish and subscribe.
 * The concrete bus lives in src/bus; adapters see only this port.
 */
export interface EventPort<Events extends object = GatewayEvents> {
  on<K extends keyof Events>(event: K, handler: (payload: Events[K]) => void): () => void;
  off<K extends keyof Events>(event: K, handler: (payload: Events[K]) => void): void;
  emit<K extends keyof Events>(event: K, payload: Events[K]): void;
}

export type GatewayBusPort = EventPort<GatewayEvents>;
