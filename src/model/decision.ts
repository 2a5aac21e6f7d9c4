import type { PhaseValues } from './site.js';

/**
 * What policies return and what the arbiter produces. Policies never talk to
 * devices: they return limits and requests; the arbiter merges them in tiers
 * and the allocator turns budgets into per-EVSE set-points.
 */

/**
 * Arbiter priority tiers, most important first (design: control loop step 4). `cms`: a charging
 * profile the CMS set on a charger (the charger enforces it whatever the gateway asks, so it binds
 * every request; budget the charger cannot use goes to the others).
 */
export const TIERS = ['safety', 'cms', 'grid', 'contract', 'fleet', 'optimisation'] as const;
export type Tier = (typeof TIERS)[number];

export function tierRank(t: Tier): number {
  return TIERS.indexOf(t);
}

/** Why a limit or set-point is what it is. */
export interface Reason {
  readonly policy: string;
  readonly tier: Tier;
  /** Human-readable, e.g. "site import limit 22000 W, 8400 W used by other loads". */
  readonly text: string;
  /**
   * The limit stands in for something not known yet (the grid meter not read since start-up): a
   * session it pauses is not held off for the minimum off time once it is known.
   */
  readonly transient?: true;
}

/**
 * A cap on a scope. `site` caps grid import/export; `evse:<id>` caps one EVSE;
 * `node:<id>` caps a circuit node. Most-restrictive-wins when merged.
 */
export interface Limit {
  readonly scope: string;
  readonly maxImportW?: number;
  readonly maxExportW?: number;
  readonly maxCurrentA?: number;
  /** Per-phase current cap in site phase order `[L1, L2, L3]` (e.g. fuse less measured other load), A. */
  readonly maxPhaseCurrentsA?: PhaseValues;
  readonly reason: Reason;
}

/** A wish for power on one EVSE (or battery), served in tier order inside the limits. */
export interface PowerRequest {
  readonly target: string;
  /** Desired power W (+ charge, - discharge). */
  readonly powerW: number;
  readonly reason: Reason;
}

export interface Decision {
  readonly limits: readonly Limit[];
  readonly requests: readonly PowerRequest[];
}

export const EMPTY_DECISION: Decision = { limits: [], requests: [] };

/** What the dispatcher sends to a device for one EVSE. */
export interface Setpoint {
  readonly evseId: string;
  /** Per-phase current limit, A (0 = paused). */
  readonly currentA: number;
  /** Equivalent power, W (+ charge, - discharge). */
  readonly powerW: number;
  /** Phases the set-point assumes. */
  readonly phases: 1 | 3;
  /** The binding limit first, then the others that shaped it. */
  readonly reasons: readonly Reason[];
}

/** One-line summary of a set-point's reason chain for APIs and logs. */
export function summariseReasons(reasons: readonly Reason[]): string {
  const [first] = reasons;
  if (!first) return 'no limit applies';
  return `${first.tier}/${first.policy}: ${first.text}`;
}
