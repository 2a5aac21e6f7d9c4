import type { SimVehicle } from '../../site/vehicle.js';
import type { MeterReading } from './meter.js';

export interface Connector {
  readonly id: number;
  vehicle?: SimVehicle;
  idTag?: string;
  /** 1.6 integer id as answered, or the 2.x string id. */
  txId?: number | string;
  txPending: boolean;
  txStartedAt?: number;
  seqNo: number;
  /** Lifetime energy registers, Wh. */
  registerWh: number;
  exportWh: number;
  /** Signed power the vehicle takes (+) or feeds (-), W. */
  powerW: number;
  currents: [number, number, number];
  lastStep: number;
  status: string;
  /** Offered current, A (after profiles). */
  offeredA: number;
  /** When the vehicle was last offered a new current. */
  offeredAt: number;
  /** 2.x chargingState last reported. */
  chargingState?: string;
}

/** IEC 61851: below this the pilot cannot signal a current, so the EVSE pauses. */
export const MIN_PILOT_A = 6;

export function newConnector(id: number, now: number, offeredA: number): Connector {
  return {
    id,
    txPending: false,
    seqNo: 0,
    // Lifetime registers are far from zero, as on an installed charger (a session is never billed from them).
    registerWh: 1_000_000 * id,
    exportWh: 0,
    powerW: 0,
    currents: [0, 0, 0],
    lastStep: now,
    status: 'Available',
    offeredA,
    offeredAt: now,
  };
}

/** Offer a new limit to the vehicle; below the pilot's minimum the EVSE pauses (offers 0). */
export function offer(c: Connector, limitA: number, now: number): void {
  c.offeredA = limitA;
  c.offeredAt = now;
  c.vehicle?.offer(limitA < MIN_PILOT_A ? 0 : limitA, now);
}

/**
 * Move the connector's physics to `now`: energy registers, then what the
 * vehicle draws (or feeds, when a V2G set-point is in force).
 */
export function stepConnector(c: Connector, now: number, voltageV: number, v2gSetpointW: number | undefined): void {
  const dtH = Math.max(0, now - c.lastStep) / 3_600_000;
  c.lastStep = now;
  if (c.powerW > 0) c.registerWh += c.powerW * dtH;
  else c.exportWh -= c.powerW * dtH;
  const v = c.vehicle;
  if (!v || c.txId === undefined) return;
  v.step(now, voltageV);
  if (v2gSetpointW !== undefined && v2gSetpointW < 0 && v.spec.bidirectional) {
    c.powerW = v2gSetpointW;
    const a = -v2gSetpointW / (v.spec.phases * voltageV);
    c.currents = v.spec.phases === 3 ? [a, a, a] : [a, 0, 0];
  } else {
    c.powerW = v.powerW(voltageV);
    c.currents = [...v.phaseCurrents()] as [number, number, number];
  }
}

/**
 * What a real charger reports while a vehicle is connected: SuspendedEVSE
 * when its own limit pauses the pilot, SuspendedEV when the vehicle does
 * not draw although offered enough (full, or below its own minimum) once
 * it had time to follow, else Charging.
 */
export function chargingState(c: Connector, now: number, discharging: boolean): string {
  const v = c.vehicle;
  if (!v) return 'Idle';
  if (c.offeredA < MIN_PILOT_A && !discharging) return 'SuspendedEVSE';
  const settled = now - c.offeredAt > v.spec.responseDelayMs;
  if (c.powerW === 0 && (v.full || settled)) return 'SuspendedEV';
  return 'Charging';
}

export function readingOf(c: Connector, voltageV: number): MeterReading {
  return {
    powerW: c.powerW,
    currentsA: c.currents,
    voltageV,
    importWh: c.registerWh,
    exportWh: c.exportWh,
    offeredA: c.offeredA,
    ...(c.vehicle ? { socPct: c.vehicle.socPct } : {}),
  };
}
