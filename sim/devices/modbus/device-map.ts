import type { EvseStatus } from '../../../src/model/site.js';
import type { SimRegisterType, WordOrder } from './registers.js';
import type { Table } from './server.js';

/**
 * What a simulated register-mapped device (meter or charger) has in its
 * memory, as the simulator's own data (maps/*.json). Written from the
 * vendors' register tables, never loaded from the gateway's profiles: if the
 * two disagree, a test fails, which is the point.
 */
export const SIM_QUANTITIES = [
  'status',
  'power',
  'powerL1',
  'powerL2',
  'powerL3',
  'currentL1',
  'currentL2',
  'currentL3',
  'voltageL1',
  'voltageL2',
  'voltageL3',
  'frequency',
  'energy',
  'sessionEnergy',
  'importEnergy',
  'exportEnergy',
  'soc',
  'cableState',
  'errorCode',
  // Current limit in force now (after validity, failsafe, hardware maximum).
  'appliedCurrent',
  // Largest current the hardware (or its installer setting) allows, A.
  'hardwareMaxCurrent',
  // Seconds until the set-point reverts.
  'validTimeRemaining',
  'currentLimit',
  'powerSetpoint',
  'fallbackCurrent',
  'revertTimeout',
  'controlMode',
  'setpointType',
  // A configuration register the device keeps and the simulation does not act on.
  'setting',
] as const;
export type SimQuantity = (typeof SIM_QUANTITIES)[number];

export interface SimPoint {
  readonly name: string;
  readonly quantity: SimQuantity;
  readonly address: number;
  readonly type: SimRegisterType;
  /** Engineering value (W, Wh, A, V, s, %) of one count: 0.001 for mA, 1000 for a float kWh. Default 1. */
  readonly per?: number;
  readonly table?: Table;
  /** `w`: a set register that the device does not serve back (read it through another point). Default `r`. */
  readonly access?: 'r' | 'rw' | 'w';
  /** Accepted range of a write, engineering units; outside it the device answers exception 3. */
  readonly min?: number;
  readonly max?: number;
  /** Factory value of a writable point. */
  readonly initial?: number;
  /** Raw values the vendor document names as "not available" for this register. */
  readonly invalid?: readonly number[];
}

export interface SimDeviceMap {
  /** What the device is and where its map comes from. */
  readonly about?: string;
  readonly vendor: string;
  readonly model: string;
  /** Table of points that do not name theirs. */
  readonly table: Table;
  readonly wordOrder?: WordOrder;
  /**
   * Register ranges (inclusive) the device answers; reserved registers in
   * them read 0, anything outside answers exception 2.
   */
  readonly blocks: readonly { readonly table?: Table; readonly from: number; readonly to: number }[];
  readonly points: readonly SimPoint[];
  /** Status codes of a charger. */
  readonly status?: Partial<Record<EvseStatus, number>>;
  /** Status code while feeding back (V2G), when the device has its own. */
  readonly dischargingStatus?: number;
  readonly charger?: {
    readonly phases: 1 | 3;
    readonly bidirectional: boolean;
    /** Seconds a set-point holds without a rewrite, unless a revertTimeout point says otherwise. */
    readonly revertS: number;
    /** Current after a revert, unless a fallbackCurrent point was written. */
    readonly fallbackA: number;
    /** Largest current the hardware gives, A. */
    readonly maxCurrentA: number;
    /** Set-points are refused until the controlMode point is 1 (remote). */
    readonly needsRemoteControl?: boolean;
  };
}

/** The table a point lives in. */
export function pointTable(map: SimDeviceMap, p: SimPoint): Table {
  return p.table ?? map.table;
}
