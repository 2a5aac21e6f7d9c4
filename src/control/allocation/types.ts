import type { Limit, PowerRequest, Reason, Setpoint } from '../../model/decision.js';
import { TIERS, tierRank } from '../../model/decision.js';
import type { EvseState, PhaseRotation } from '../../model/site.js';
import type { MergedLimit } from '../arbiter.js';
import type { CircuitTree } from '../circuit-tree.js';

// The allocator's types: its public input, output and memory, and the working records of one round
// (constraints and candidate sessions) that the steps in this folder share.

export interface TreeAllocatorOptions {
  /** A session switched on stays ahead of equal newcomers for this long, ms. */
  readonly minOnMs?: number;
  /** A paused session stays paused at least this long, ms (relays, vehicles). */
  readonly minOffMs?: number;
  /** Increases smaller than this are not made, A. */
  readonly deadbandA?: number;
  /**
   * Share of every limit kept back when allocating, %: a limit that moves by less than this does
   * not move the set-points (a decrease smaller than the dead-band is not made while it still fits).
   */
  readonly reservePct?: number;
  /** Slow up: largest increase per second of a running session, A/s. */
  readonly rampUpAPerS?: number;
  /** A decrease is assumed not yet followed for at most this long, ms (slowest vehicle). */
  readonly holdMaxMs?: number;
  /** A decrease counts as followed when the measured current is within this of the set-point, A. */
  readonly holdToleranceA?: number;
  /** Learn how far each vehicle draws above its set-point and reserve it. */
  readonly learnOverdraw?: boolean;
  readonly maxOverdrawA?: number;
  /** Reserved for a new vehicle until it has shown how closely it follows its set-point, A. */
  readonly assumedOverdrawA?: number;
  /** EVSE or charger ids that can switch between 1 and 3 phases. */
  readonly phaseSwitchable?: ReadonlySet<string>;
  /** Least time between two phase switches of one EVSE, ms. */
  readonly phaseSwitchDwellMs?: number;
  /** Measured values older than this are not used for learning, ms. */
  readonly freshMs?: number;
}

/** What the allocator remembers about one session between rounds. */
export interface SessionMemory {
  /** Identity of the session (a new session forgets everything). */
  readonly key: string;
  readonly currentA: number;
  readonly phases: 1 | 3;
  /** When the current last changed, epoch ms. */
  readonly setAt: number;
  readonly onSince: number | undefined;
  readonly offSince: number | undefined;
  readonly phasesAt: number;
  /** Learnt: how far the vehicle draws above its set-point, A. */
  readonly overdrawA: number;
  /** The vehicle has been seen following a set-point, so `overdrawA` is measured, not assumed. */
  readonly overdrawKnown: boolean;
  /** A decrease not yet followed: the vehicle may still draw this much until `holdUntil`. */
  readonly holdA: number;
  readonly holdUntil: number;
}

export interface AllocatorState {
  readonly sessions: ReadonlyMap<string, SessionMemory>;
  /**
   * The working records of the last round by EVSE id, reused by the next (`candidateOf`): not part of
   * the decision (every field is written again), only spares the garbage collector.
   */
  readonly pool?: CandPool;
}

/** Working records by EVSE id, and the mark of the round that used them last. */
export interface CandPool {
  readonly records: Map<string, Cand>;
  stamp: number;
}

export const EMPTY_ALLOCATOR_STATE: AllocatorState = { sessions: new Map() };

export interface TreeAllocationInput {
  readonly tree: CircuitTree;
  readonly evses: readonly EvseState[];
  /** Merged limits (used for `evse:<id>` caps, and for everything when `rawLimits` is absent). */
  readonly limits: ReadonlyMap<string, MergedLimit>;
  /** Unmerged limits; with them, each limit binds only its own tier and below. */
  readonly rawLimits?: readonly Limit[];
  readonly requests?: readonly PowerRequest[];
  readonly now: number;
  readonly state?: AllocatorState;
  readonly options?: TreeAllocatorOptions;
}

export interface TreeAllocation {
  readonly setpoints: Setpoint[];
  readonly state: AllocatorState;
}

/** Tier ranks by name (`tierRank` is an `indexOf`, and this runs for every request of every round). */
export const RANK: Readonly<Record<string, number>> = Object.fromEntries(TIERS.map((t, i) => [t, i]));
// Below optimisation: capacity nobody asked for. From the tier list, not a number: when the `cms` tier
// came in, a fixed 5 became the optimisation rank and every optimisation request was ignored.
export const DEFAULT_RANK: number = TIERS.length;
/** `Cand.bindR` of a session admitted at its request (step 1) and not moved since. */
export const BY_REQUEST = -2;
export const PHYSICAL_RANK = tierRank('contract'); // constraints a pending decrease must respect
export const EPS = 1e-7;

export interface Constraint {
  /** Position in the round's constraint list. */
  id: number;
  readonly rank: number;
  /** Remaining capacity: A for phase constraints, W for power constraints. */
  head: number;
  readonly capacity: number;
  /** Phase index for a phase constraint; -1 for a power constraint. */
  readonly phase: number;
  /** An import cap (W): V2G feed-in does not use it up, unlike a fuse or a node's power rating. */
  readonly importOnly: boolean;
  readonly reasons: readonly Reason[];
  rate: number;
  members: Cand[];
  /** The reasons of sessions this constraint pauses at minimum `pausedMinA` (built once per round). */
  paused: readonly Reason[] | undefined;
  pausedMinA: number;
  /**
   * The reasons of sessions this constraint binds, by the session's own reasons (`bindingOf`): built
   * once per round for all the sessions it binds with the same own reasons.
   */
  bound: Map<readonly Reason[], readonly Reason[]> | undefined;
}

/** The requests of one EVSE: the most important one, and the largest positive one per tier rank. */
export interface EvseRequests {
  lead: PowerRequest;
  leadRank: number;
  leadI: number;
  w: Array<number | undefined>;
  r: Array<Reason | undefined>;
  /** Position of its first positive request (policies sort by laxity). */
  urgency: number;
}
/** Shared by every EVSE without a positive request; never written. */
export const NO_W: Array<number | undefined> = [];
export const NO_R: Array<Reason | undefined> = [];

export interface Cand {
  /** The round (`Round.stamp`) this record belongs to: a record is reused once per round at most. */
  stamp: number;
  readonly evse: EvseState;
  /** Copied from the EVSE: the later steps read them for every session, whatever shape the EVSE objects have. */
  readonly id: string;
  readonly rotation: PhaseRotation;
  readonly voltageV: number;
  readonly index: number;
  readonly key: string;
  readonly mem: SessionMemory | undefined;
  phases: 1 | 3;
  mask: readonly [boolean, boolean, boolean];
  wPerA: number;
  readonly minA: number;
  maxA: number;
  readonly capReasons: readonly Reason[];
  readonly overdrawA: number;
  readonly learntOverdrawA: number;
  readonly overdrawKnown: boolean;
  readonly rank: number;
  readonly urgency: number;
  /** Requested current per tier rank (A), when any. */
  readonly requestW: ReadonlyArray<number | undefined>;
  readonly requestReasons: ReadonlyArray<Reason | undefined>;
  readonly cons: Constraint[];
  readonly canSwitch: boolean;
  readonly preferred: 1 | 2 | 3;
  admitted: boolean;
  /** Sort keys: priority and arrival (copied from the EVSE); switched on less than minOnMs ago (keeps its place); on at all. */
  readonly priority: number;
  readonly since: number;
  fresh: number;
  on: number;
  cur: number;
  target: number;
  active: boolean;
  frozen: boolean;
  binding?: readonly Reason[] | undefined;
  /** Set when water-filling froze the session: the constraint that did (if any) and the stage's rank. */
  bindK: Constraint | undefined;
  bindR: number;
  /** Current when its water-filling stage began, A. */
  start: number;
  /** Steps 3 and 4: the set-point, its reasons, the dead-band fallback (-1: none), what is held. */
  a: number;
  reasons: readonly Reason[];
  sticky: number;
  heldA: number;
  holdNowA: number;
  pauseReasons?: readonly Reason[];
  measuredA: number | undefined;
  /** Time of the reading `measuredA` comes from. */
  readonly measuredTs: number;
}

/** The options with their defaults applied, resolved once per round. */
export interface Settings {
  readonly minOnMs: number;
  readonly minOffMs: number;
  readonly deadbandA: number;
  readonly rampUpAPerS: number;
  readonly holdMaxMs: number;
  readonly holdToleranceA: number;
  readonly freshMs: number;
  readonly maxOverdrawA: number;
  readonly assumedOverdrawA: number;
  readonly phaseSwitchDwellMs: number;
  readonly learnOverdraw: boolean;
  readonly reserve: number;
  readonly phaseSwitchable: ReadonlySet<string> | undefined;
}

export function settingsOf(o: TreeAllocatorOptions): Settings {
  return {
    minOnMs: o.minOnMs ?? 60_000,
    minOffMs: o.minOffMs ?? 30_000,
    deadbandA: o.deadbandA ?? 0.5,
    rampUpAPerS: o.rampUpAPerS ?? 4,
    holdMaxMs: o.holdMaxMs ?? 30_000,
    holdToleranceA: o.holdToleranceA ?? 0.5,
    // Chargers are configured to sample every 5 s (adapters/ocpp/measurands.ts): a reading stays
    // usable for two and a half intervals, so one late message does not make every vehicle unknown.
    freshMs: o.freshMs ?? 12_500,
    maxOverdrawA: o.maxOverdrawA ?? 3,
    assumedOverdrawA: o.assumedOverdrawA ?? 1.5,
    phaseSwitchDwellMs: o.phaseSwitchDwellMs ?? 300_000,
    learnOverdraw: o.learnOverdraw !== false,
    reserve: (o.reservePct ?? 1) / 100,
    phaseSwitchable: o.phaseSwitchable,
  };
}

/** What every step of one round reads: the time, the settings, last round's memory and the constraints. */
export interface Round {
  readonly now: number;
  readonly s: Settings;
  readonly prev: AllocatorState;
  /** Per-EVSE caps (`evse:<id>`) by EVSE id. */
  readonly ownLimits: ReadonlyMap<string, MergedLimit>;
  /** Every import-side constraint of the round, indexed by `Constraint.id`. */
  readonly all: readonly Constraint[];
  /** Feed-in caps (W) on `site` and `evses`, shared by every discharging EVSE; not in `all`. */
  readonly exports: readonly Constraint[];
  /** The constraints on the path of a circuit node, `evses` ones included. */
  pathCons(nodeId: string): Constraint[];
  /** Working records of earlier rounds by EVSE id (`AllocatorState.pool`), and this round's mark on them. */
  readonly pool: Map<string, Cand>;
  readonly stamp: number;
}
