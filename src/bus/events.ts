import type { GatewayEvents } from '../model/events.js';
import { Bus } from './bus.js';

export type { EvChargingNeeds, GatewayEvents, SessionInfo, SetpointChange } from '../model/events.js';

export type GatewayBus = Bus<GatewayEvents>;

export function createGatewayBus(onHandlerError?: (event: string, err: unknown) => void): GatewayBus {
  return new Bus<GatewayEvents>(onHandlerError);
}
