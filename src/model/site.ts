import type { Reading } from './reading.js';

/**
 * Domain model of a site. Sign convention (one for the whole code base,
 * converted at the adapter):
 *  - grid power  `+` import from the grid, `-` export;
 *  - PV power    `>= 0` production;
 *  - battery and EVSE power `+` charging (drawing from the site bus),
 *    `-` discharging / V2G feed-in (matches OCPP 2.1 negative limits).
 * Units: W, Wh, A, V, s, ms. Per-phase values are `[L1, L2, L3]`.
 */
export type PhaseValues = readonly [number, number, number];

export type Protocol = 'modbus' | 'opcua' | 'mqtt' | 'ocpp' | 'sim';

/**
 * How a charger's L1/L2/L3 terminals are wired to the site's phases.
 * `L2L3L1` means the charger's L1 sits on site L2, etc. Chargers in a row are
 * usually rotated so single-phase cars spread over the three site phases.
 */
export type PhaseRotation = 'L1L2L3' | 'L2L3L1' | 'L3L1L2' | 'L1L3L2' | 'L3L2L1' | 'L2L1L3';

/** Site phase index (0..2) of each charger terminal L1, L2, L3. */
export const ROTATION: Record<PhaseRotation, readonly [number, number, number]> = {
  L1L2L3: [0, 1, 2],
  L2L3L1: [1, 2, 0],
  L3L1L2: [2, 0, 1],
  L1L3L2: [0, 2, 1],
  L3L2L1: [2, 1, 0],
  L2L1L3: [1, 0, 2],
};

/** OCPP-flavoured connector status, shared by every charger protocol. */
export const EVSE_STATUSES = [
  'Available',
  'Preparing',
  'Charging',
  'SuspendedEV',
  'SuspendedEVSE',
  'Finishing',
  'Reserved',
  'Unavailable',
  'Faulted',
  'Offline',
] as const;
export type EvseStatus = (typeof EVSE_STATUSES)[number];

/** Statuses in which a vehicle is plugged in and may take power. */
/**
 * What tells one charging session on an EVSE from the next: its id and start (a charger may reuse an
 * id, and a session may have none yet). Every memory kept per session is keyed by it.
 */
export function sessionKey(e: { readonly sessionId?: string; readonly sessionStart?: number }): string {
  return `${e.sessionId ?? ''}@${e.sessionStart ?? ''}`;
}

export const SESSION_STATUSES: ReadonlySet<EvseStatus> = new Set([
  'Preparing',
  'Charging',
  'SuspendedEV',
  'SuspendedEVSE',
]);

/** Static facts about an EVSE (from config or learnt at boot). */
export interface EvseSpec {
  /** `<chargerId>/<connectorId>`; unique in the site. */
  readonly id: string;
  readonly chargerId: string;
  readonly connectorId: number;
  readonly protocol: Protocol;
  /** Circuit node the EVSE hangs off (`site` when not configured). */
  readonly circuitId: string;
  readonly phaseRotation: PhaseRotation;
  /** Phases the charger can supply. */
  readonly phases: 1 | 3;
  readonly minCurrentA: number;
  readonly maxCurrentA: number;
  readonly voltageV: number;
  readonly bidirectional: boolean;
  /** Higher is served first when the minimums do not all fit. */
  readonly priority: number;
}

export interface EvseLive {
  readonly status: EvseStatus;
  /** Measured active power, W (+ charging, - V2G). */
  readonly powerW?: Reading<number>;
  /** Measured phase currents in the charger's own phase order. */
  readonly currentsA?: Reading<PhaseValues>;
  /**
   * Phases the connected vehicle actually uses, when known: 1 (on the charger's L1), 2 (on its L1
   * and L2) or 3. It draws its set-point on each of them.
   */
  readonly vehiclePhases?: 1 | 2 | 3;
  /**
   * The set-point in force at the charger: the last one the gateway dispatched in this session and
   * since when (absent before the first). A vehicle follows it seconds late; one still drawing well
   * below it long after shows its own maximum.
   */
  readonly offered?: OfferedSetpoint;
  /** Meter register of the session, Wh since session start. */
  readonly sessionEnergyWh?: number;
  readonly sessionId?: string;
  readonly idTag?: string;
  /** Epoch ms the session (plug-in or transaction) started. */
  readonly sessionStart?: number;
  readonly lastSeen?: number;
}

/** A set-point as the charger has it: per-phase current on a number of phases, unchanged since `since`. */
export interface OfferedSetpoint {
  readonly currentA: number;
  readonly phases: 1 | 3;
  /** Epoch ms it was dispatched (a later set-point of the same current and phases keeps it). */
  readonly since: number;
}

export interface EvseState extends EvseSpec, EvseLive {}

export interface GridState {
  readonly powerW?: Reading<number>;
  readonly currentsA?: Reading<PhaseValues>;
  readonly importEnergyWh?: Reading<number>;
  readonly exportEnergyWh?: Reading<number>;
}

export interface PvState {
  readonly powerW?: Reading<number>;
  readonly energyWh?: Reading<number>;
}

export interface BatteryState {
  readonly powerW?: Reading<number>;
  readonly socPct?: Reading<number>;
  /** Optional BMS details (OPC UA / Modbus BMS); absent when the device does not report them. */
  readonly sohPct?: Reading<number>;
  readonly cellTempMinC?: Reading<number>;
  readonly cellTempMaxC?: Reading<number>;
  /** What the BMS allows right now, W (both >= 0). */
  readonly maxChargePowerW?: Reading<number>;
  readonly maxDischargePowerW?: Reading<number>;
  /** Device-specific alarm bit field; 0 = no alarm. */
  readonly alarms?: Reading<number>;
}

/** A set-point the gateway wrote to a battery and the device confirmed. */
export interface BatteryCommand {
  /** W, + charging, - discharging. */
  readonly powerW: number;
  /** When the device confirmed it, epoch ms. */
  readonly ts: number;
  /** The set-point before it, W (0 for the first): which way the last change went. */
  readonly previousW: number;
}

export interface DeviceStatus {
  readonly id: string;
  readonly protocol: Protocol;
  readonly kind: 'meter' | 'pv' | 'battery' | 'charger' | 'load' | 'other';
  readonly online: boolean;
  readonly lastSeen?: number;
  readonly error?: string;
  /** A charger's meter values as configured and read back (absent until checked). */
  readonly measures?: MeterCapability;
}

/**
 * What a charger reports about its draw, as read back after configuring it: a charger without
 * fresh per-phase values is estimated from its set-point, never folded into building load.
 */
export interface MeterCapability {
  /** Seconds between sampled meter values in a transaction (0: none). */
  readonly sampleIntervalS?: number;
  readonly sampled: readonly string[];
  /** Seconds between clock-aligned meter values (0: none). */
  readonly alignedIntervalS?: number;
  readonly perPhaseCurrent: boolean;
  readonly power: boolean;
  /** How the charger took the configuration. */
  readonly outcome: 'configured' | 'partly' | 'rejected' | 'unanswered';
  /** The keys or variables it refused, with its answer. */
  readonly refused: readonly string[];
  readonly checkedAt: number;
}

/** Immutable snapshot of the process image, handed to policies. */
export interface SiteSnapshot {
  readonly ts: number;
  readonly siteId: string;
  readonly grid: GridState;
  readonly pv: PvState;
  /** The site's battery; with several units, their aggregate (power and limits summed, mean SoC). */
  readonly battery: BatteryState;
  /** Each battery unit by device id, present when the site has more than one. */
  readonly batteries?: Readonly<Record<string, BatteryState>>;
  /**
   * The last set-point each battery (by device id) took from the gateway: a battery follows a
   * new set-point a second or more late, so a policy must not read a meter sample taken before
   * that as the result of it.
   */
  readonly batteryCommands?: Readonly<Record<string, BatteryCommand>>;
  readonly evses: readonly EvseState[];
  readonly devices: readonly DeviceStatus[];
  /** Set of inputs that are stale right now (device ids / quantities). */
  readonly stale: readonly string[];
  /**
   * The margin the control loop measured the site balance needs (building load moving within the
   * vehicles' response time, estimated draws straying from their set-points), W, and why; load
   * management keeps at least its configured margin. Absent until enough has been measured.
   */
  readonly measuredMargin?: { readonly w: number; readonly why: string };
}

/** Power of a current on a number of phases at a nominal voltage. */
export function currentToPowerW(currentA: number, phases: number, voltageV: number): number {
  return currentA * phases * voltageV;
}

export function powerToCurrentA(powerW: number, phases: number, voltageV: number): number {
  return phases > 0 && voltageV > 0 ? powerW / (phases * voltageV) : 0;
}

export function evseId(chargerId: string, connectorId: number): string {
  return `${chargerId}/${connectorId}`;
}
