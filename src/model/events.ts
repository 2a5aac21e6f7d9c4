/**
 * The events that cross component boundaries inside the gateway. Domain
 * types: adapters, the core and the API all speak them.
 */
import type { Setpoint } from './decision.js';
import type { GridLimitStatus } from './grid.js';
import type { Reading } from './reading.js';
import type { BatteryState, DeviceStatus, EvseLive, EvseSpec, GridState, PvState } from './site.js';

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
  /** The transaction id as the charger knows it (an attribute: ids repeat; `id` is the gateway's own). */
  readonly chargerTransactionId?: string;
  readonly syncState: 'pending' | 'synced' | 'failed' | 'local';
  readonly stopReason?: string;
}

export interface SetpointChange {
  readonly setpoint: Setpoint;
  readonly previous?: Setpoint;
  readonly ts: number;
}

/** What a connected vehicle asks for, as told by the charger (for fleet / deadline policies). */
export interface EvChargingNeeds {
  readonly evseId: string;
  readonly chargerId: string;
  readonly ts: number;
  /** Epoch ms the vehicle wants to leave. */
  readonly departureAt?: number;
  /** Energy the vehicle asks for, Wh. */
  readonly energyWh?: number;
  readonly minCurrentA?: number;
  readonly maxCurrentA?: number;
  /** The vehicle offers bidirectional transfer (V2G). */
  readonly dischargeAllowed: boolean;
  /** Largest discharge power the vehicle allows, W (positive number). */
  readonly maxDischargeW?: number;
  /** ISO 15118 energy transfer mode as requested (e.g. `AC_three_phase`, `AC_BPT`, `DC_BPT`). */
  readonly transferMode: string;
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
  /**
   * A CMS charging profile on a charger (a max profile the OCPP proxy merges): its per-phase current
   * cap now, or none when the CMS cleared it. The arbiter takes it as an input of the `cms` tier.
   */
  'cms.limit': { readonly chargerId: string; readonly capA?: number; readonly ts: number; readonly what: string };
  /** The binding grid import limit became met / not met at the grid meter (src/grid). */
  'grid.limit': GridLimitStatus;
}
