import type { Setpoint } from '../model/decision.js';
import type { Reading } from '../model/reading.js';
import type { BatteryState, DeviceStatus, EvseLive, EvseSpec, GridState, PvState } from '../model/site.js';
import { Bus } from './bus.js';

/** A session as seen by the gateway (OCPP transaction or Modbus plug-in). */
export interface SessionInfo {
  readonly id: string;
  readonly evseId: string;
  readonly chargerId: string;
  readonly connectorId: number;
  readonly idTag?: string;
  readonly startedAt: number;
  readonly stoppedAt?: number;
  readonly energyWh: number;
  readonly meterStartWh?: number;
  readonly upstreamTransactionId?: string;
  readonly syncState: 'pending' | 'synced' | 'failed' | 'local';
  readonly stopReason?: string;
}

export interface SetpointChange {
  readonly setpoint: Setpoint;
  readonly previous?: Setpoint;
  readonly ts: number;
}

/** Every event that crosses component boundaries inside the gateway. */
export interface GatewayEvents {
  grid: Partial<GridState>;
  pv: Partial<PvState>;
  battery: Partial<BatteryState>;
  /** A sub-metered non-controllable load (building, HVAC) reported by a field device. */
  load: { readonly id: string; readonly powerW?: Reading<number>; readonly energyWh?: Reading<number> };
  /** An EVSE became known (config or charger boot). */
  'evse.spec': EvseSpec;
  /** Live data of one EVSE changed. */
  'evse.live': { readonly id: string; readonly patch: Partial<EvseLive> };
  device: DeviceStatus;
  'session.started': SessionInfo;
  'session.updated': SessionInfo;
  'session.stopped': SessionInfo;
  /** The dispatcher wrote a set-point to a device. */
  'setpoint.changed': SetpointChange;
  /** The failsafe engaged or released. */
  failsafe: { readonly active: boolean; readonly reason: string; readonly ts: number };
}

export type GatewayBus = Bus<GatewayEvents>;

export function createGatewayBus(onHandlerError?: (event: string, err: unknown) => void): GatewayBus {
  return new Bus<GatewayEvents>(onHandlerError);
}
