import type { Limit, PowerRequest, Reason, Setpoint } from '../model/decision.js';
import { TIERS, tierRank } from '../model/decision.js';
import { type EvseState, type PhaseRotation, type PhaseValues, SESSION_STATUSES } from '../model/site.js';
import type { MergedLimit } from './arbiter.js';
import { type CircuitTree, siteMask } from './circuit-tree.js';

/**
 * Circuit-tree allocator. A pure function: the hysteresis memory (what was
 * set when, learnt overdraw, pending decreases) goes in as `state` and comes
 * back out, so the same inputs always give the same set-points.
 *
 * Semantics:
 *  - every node of the tree is a per-phase constraint (plus an optional
 *    power constraint); policy limits on `evses` and `node:<id>` add more;
 *  - safety, grid and contract limits bind every request; a fleet or
 *    optimisation limit binds requests of its own tier and of every less
 *    important tier (a solar limit never holds back a fleet deadline);
 *  - minimums first, in priority / urgency order; whoever does not fit is
 *    paused; then requests tier by tier, then the rest is water-filled so
 *    equal sessions get equal current.
 */

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
  /** Learnt from measurement: phases the vehicle uses. */
  readonly vehiclePhases?: 1 | 3;
  /** A decrease not yet followed: the vehicle may still draw this much until `holdUntil`. */
  readonly holdA: number;
  readonly holdUntil: number;
}

export interface AllocatorState {
  readonly sessions: ReadonlyMap<string, SessionMemory>;
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
const RANK: Readonly<Record<string, number>> = Object.fromEntries(TIERS.map((t, i) => [t, i]));
const DEFAULT_RANK = 5; // below optimisation: capacity nobody asked for
/** `Cand.bindR` of a session admitted at its request (step 1) and not moved since. */
const BY_REQUEST = -2;
const PHYSICAL_RANK = tierRank('contract'); // constraints a pending decrease must respect
const EPS = 1e-7;

/**
 * Does a constraint bind a request of this rank? Safety, grid and contract limits (fuses, DR caps,
 * contracted capacity) bind every request: a grid-tier dispatch asking a vehicle to take more must
 * not push the chargers past the site's contract. Fleet and optimisation limits are preferences and
 * bind only their own tier and below (a solar limit never holds back a fleet deadline).
 */
function binds(k: Constraint, rank: number): boolean {
  return k.rank <= Math.max(rank, PHYSICAL_RANK);
}

interface Constraint {
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
}

/** The requests of one EVSE: the most important one, and the largest positive one per tier rank. */
interface EvseRequests {
  lead: PowerRequest;
  leadRank: number;
  leadI: number;
  w: Array<number | undefined>;
  r: Array<Reason | undefined>;
  /** Position of its first positive request (policies sort by laxity). */
  urgency: number;
}
/** Shared by every EVSE without a positive request; never written. */
const NO_W: Array<number | undefined> = [];
const NO_R: Array<Reason | undefined> = [];

interface Cand {
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
  readonly preferred: 1 | 3;
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

const reason = (policy: string, text: string): Reason => ({ policy, tier: 'safety', text });

const MAX_REASONS = new Map<number, readonly Reason[]>();
const MIN_REASONS = new Map<number, readonly Reason[]>();
/** `charger maximum <n> A`, built once per value. */
function maxReasons(a: number): readonly Reason[] {
  let r = MAX_REASONS.get(a);
  if (!r) {
    r = [reason('device', `charger maximum ${a} A`)];
    MAX_REASONS.set(a, r);
  }
  return r;
}
/** `minimum <n> A`, built once per value. */
function minReasons(a: number): readonly Reason[] {
  let r = MIN_REASONS.get(a);
  if (!r) {
    r = [reason('allocator', `minimum ${fmtA(a)}`)];
    MIN_REASONS.set(a, r);
  }
  return r;
}

const THREE_THEN_ONE: readonly (1 | 3)[] = [3, 1];
const ONE_THEN_THREE: readonly (1 | 3)[] = [1, 3];
const THREE: readonly (1 | 3)[] = [3];
const ONE: readonly (1 | 3)[] = [1];

/** The first constraint binding `rank` that `a` amperes on these phases would overrun. */
function overrun(
  cons: readonly Constraint[],
  rank: number,
  a: number,
  mask: readonly [boolean, boolean, boolean],
  wPerA: number,
): Constraint | undefined {
  const bound = Math.max(rank, PHYSICAL_RANK);
  for (let i = 0; i < cons.length; i++) {
    const k = cons[i] as Constraint;
    if (k.rank <= bound && k.head - a * (k.phase < 0 ? wPerA : mask[k.phase] ? 1 : 0) < -EPS) return k;
  }
  return undefined;
}

function coef(k: Constraint, c: Cand): number {
  return k.phase < 0 ? c.wPerA : c.mask[k.phase] ? 1 : 0;
}

function sessionKey(e: EvseState): string {
  return `${e.sessionId ?? ''}@${e.sessionStart ?? ''}`;
}

/** `key === sessionKey(e)`, without building the key (a string per EVSE and round) in the usual case. */
function isSessionKey(key: string, e: EvseState): boolean {
  const sid = e.sessionId ?? '';
  const n = sid.length;
  if (key.charCodeAt(n) !== 64 /* @ */ || !key.startsWith(sid)) return false;
  let t = e.sessionStart;
  if (t === undefined) return key.length === n + 1;
  if (!Number.isSafeInteger(t) || t < 0) return key === sessionKey(e);
  // The decimal digits of a non-negative integer, last first.
  let i = key.length - 1;
  do {
    if (i <= n || key.charCodeAt(i) !== 48 + (t % 10)) return false;
    t = Math.floor(t / 10);
    i--;
  } while (t > 0);
  return i === n;
}

function fmtA(a: number): string {
  return `${Math.round(a * 10) / 10} A`;
}

const treeReasons = new WeakMap<CircuitTree, Map<string, readonly Reason[]>>();

/** The reason of a static tree limit, built once per tree (rounds run many times a second). */
function treeReason(tree: CircuitTree, key: string, text: () => string): readonly Reason[] {
  let m = treeReasons.get(tree);
  if (!m) {
    m = new Map();
    treeReasons.set(tree, m);
  }
  let r = m.get(key);
  if (!r) {
    r = [reason('circuit', text())];
    m.set(key, r);
  }
  return r;
}

interface TreeLimit {
  readonly nodeId: string;
  readonly capacity: number;
  /** Phase index, or -1 for the node's power rating. */
  readonly phase: number;
  readonly reasons: readonly Reason[];
}
const treeLimitCache = new WeakMap<CircuitTree, readonly TreeLimit[]>();

/** The static limits of every tree node (fuses, power ratings), in tree order, listed once per tree. */
function treeLimits(tree: CircuitTree): readonly TreeLimit[] {
  let list = treeLimitCache.get(tree);
  if (list) return list;
  const out: TreeLimit[] = [];
  for (const n of tree.nodes.values()) {
    const label = n.id === tree.root ? 'site connection' : `circuit ${n.id}`;
    n.maxPhaseCurrentsA.forEach((cap, p) => {
      out.push({
        nodeId: n.id,
        capacity: cap,
        phase: p,
        reasons: treeReason(tree, `${n.id}#${p}`, () => `${label} fuse ${cap} A on L${p + 1}`),
      });
    });
    if (n.maxPowerW !== undefined) {
      out.push({
        nodeId: n.id,
        capacity: n.maxPowerW,
        phase: -1,
        reasons: treeReason(tree, `${n.id}#W`, () => `${label} limit ${((n.maxPowerW ?? 0) / 1000).toFixed(1)} kW`),
      });
    }
  }
  list = out;
  treeLimitCache.set(tree, list);
  return list;
}

/** Build the constraints of every tree node and every dynamic limit, tiered. */
function buildConstraints(
  input: TreeAllocationInput,
  reserve: number,
): {
  byNode: Map<string, Constraint[]>;
  evses: Constraint[];
  all: Constraint[];
  /** Feed-in caps (W) on `site` and `evses`, shared by every discharging EVSE; not in `all`. */
  exports: Constraint[];
} {
  const byNode = new Map<string, Constraint[]>();
  const all: Constraint[] = [];
  const add = (
    nodeId: string | undefined,
    rank: number,
    capacity: number,
    phase: number,
    importOnly: boolean,
    reasons: readonly Reason[],
  ) => {
    if (!Number.isFinite(capacity)) return;
    const c: Constraint = {
      id: all.length,
      rank,
      capacity,
      phase,
      importOnly,
      reasons,
      // A small part of every limit is not handed out, so that a limit moving by less than that
      // (meter noise) leaves the set-points as they are: see the dead-band in step 3.
      head: Math.max(0, capacity * (1 - reserve)),
      rate: 0,
      members: [],
      paused: undefined,
      pausedMinA: 0,
    };
    all.push(c);
    if (nodeId === undefined) return c;
    const list = byNode.get(nodeId);
    if (list) list.push(c);
    else byNode.set(nodeId, [c]);
    return c;
  };
  for (const t of treeLimits(input.tree)) add(t.nodeId, 0, t.capacity, t.phase, false, t.reasons);
  const evses: Constraint[] = [];
  // Per scope and tier: the cumulative most-restrictive value, as its own constraint whenever it tightens.
  const raw: readonly Limit[] =
    input.rawLimits ??
    [...input.limits.values()].map((m) => ({
      scope: m.scope,
      ...(m.maxImportW !== undefined ? { maxImportW: m.maxImportW } : {}),
      ...(m.maxExportW !== undefined ? { maxExportW: m.maxExportW } : {}),
      ...(m.maxCurrentA !== undefined ? { maxCurrentA: m.maxCurrentA } : {}),
      ...(m.maxPhaseCurrentsA !== undefined ? { maxPhaseCurrentsA: m.maxPhaseCurrentsA } : {}),
      reason: m.reasons[0] ?? reason('arbiter', `limit on ${m.scope}`),
    }));
  const exports: Constraint[] = [];
  for (const scope of ['site', 'evses']) {
    let cap = Number.POSITIVE_INFINITY;
    const list = raw.filter((l) => l.scope === scope && l.maxExportW !== undefined);
    for (const l of list.sort((a, b) => tierRank(a.reason.tier) - tierRank(b.reason.tier))) {
      if ((l.maxExportW as number) >= cap) continue;
      cap = l.maxExportW as number;
      exports.push({
        id: -1,
        rank: tierRank(l.reason.tier),
        capacity: cap,
        head: Math.max(0, cap * (1 - reserve)),
        phase: -1,
        importOnly: false,
        reasons: [l.reason],
        rate: 0,
        members: [],
        paused: undefined,
        pausedMinA: 0,
      });
    }
  }
  const byScope = new Map<string, Limit[]>();
  for (const l of raw) {
    if (l.scope !== 'evses' && !l.scope.startsWith('node:')) continue;
    const list = byScope.get(l.scope) ?? [];
    list.push(l);
    byScope.set(l.scope, list);
  }
  for (const [scope, list] of byScope) {
    const nodeId = scope === 'evses' ? undefined : scope.slice(5);
    if (nodeId !== undefined && !input.tree.nodes.has(nodeId)) continue;
    const sorted = [...list].sort((a, b) => tierRank(a.reason.tier) - tierRank(b.reason.tier));
    let powerW = Number.POSITIVE_INFINITY;
    const phaseA = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
    for (const l of sorted) {
      const rank = tierRank(l.reason.tier);
      if (l.maxImportW !== undefined && l.maxImportW < powerW) {
        powerW = l.maxImportW;
        const k = add(nodeId, rank, powerW, -1, true, [l.reason]);
        if (k && nodeId === undefined) evses.push(k);
      }
      if (nodeId === undefined) continue;
      for (let p = 0; p < 3; p++) {
        const v = Math.min(
          l.maxCurrentA ?? Number.POSITIVE_INFINITY,
          l.maxPhaseCurrentsA?.[p] ?? Number.POSITIVE_INFINITY,
        );
        if (v < (phaseA[p] as number)) {
          phaseA[p] = v;
          add(nodeId, rank, v, p, false, [l.reason]);
        }
      }
    }
  }
  return { byNode, evses, all, exports };
}

export function allocateTree(input: TreeAllocationInput): TreeAllocation {
  const o = input.options ?? {};
  const now = input.now;
  const minOnMs = o.minOnMs ?? 60_000;
  const minOffMs = o.minOffMs ?? 30_000;
  const deadbandA = o.deadbandA ?? 0.5;
  const rampUp = o.rampUpAPerS ?? 4;
  const holdMaxMs = o.holdMaxMs ?? 30_000;
  const holdTol = o.holdToleranceA ?? 0.5;
  const freshMs = o.freshMs ?? 5000;
  const maxOd = o.maxOverdrawA ?? 3;
  const assumedOd = o.assumedOverdrawA ?? 1.5;
  const dwellMs = o.phaseSwitchDwellMs ?? 300_000;
  const prevState = input.state ?? EMPTY_ALLOCATOR_STATE;

  const { byNode, evses: evsesCons, all, exports } = buildConstraints(input, (o.reservePct ?? 1) / 100);
  const consOfNode = new Map<string, Constraint[]>();
  const pathCons = (nodeId: string): Constraint[] => {
    let list = consOfNode.get(nodeId);
    if (!list) {
      list = [];
      for (const n of input.tree.pathOf(nodeId)) list.push(...(byNode.get(n) ?? []));
      list.push(...evsesCons);
      consOfNode.set(nodeId, list);
    }
    return list;
  };

  // Requests per EVSE and tier; the position inside a tier is the urgency (policies sort by laxity).
  // The most important request per EVSE (`lead`) decides its direction: a negative one is V2G feed-in.
  const reqByEvse = new Map<string, EvseRequests>();
  const requests = input.requests ?? [];
  for (let i = 0; i < requests.length; i++) {
    const q = requests[i] as PowerRequest;
    const id = q.target.startsWith('evse:') ? q.target.slice(5) : q.target;
    const rank = RANK[q.reason.tier] ?? -1;
    let entry = reqByEvse.get(id);
    if (!entry) {
      entry = { lead: q, leadRank: rank, leadI: i, w: NO_W, r: NO_R, urgency: Number.POSITIVE_INFINITY };
      reqByEvse.set(id, entry);
    } else if (rank < entry.leadRank) {
      entry.lead = q;
      entry.leadRank = rank;
      entry.leadI = i;
    }
    if (q.powerW <= 0) continue;
    if (entry.w === NO_W) {
      // One slot per tier rank, allocated packed (a sparse write would grow a holey backing store).
      entry.w = [undefined, undefined, undefined, undefined, undefined];
      entry.r = [undefined, undefined, undefined, undefined, undefined];
    }
    if ((entry.w[rank] ?? 0) < q.powerW) {
      entry.w[rank] = q.powerW;
      entry.r[rank] = q.reason;
    }
    if (i < entry.urgency) entry.urgency = i;
  }
  // Per-EVSE caps indexed by EVSE id once, instead of a `evse:<id>` key built per EVSE and round.
  const ownLimits = new Map<string, MergedLimit>();
  for (const [scope, m] of input.limits) if (scope.startsWith('evse:')) ownLimits.set(scope.slice(5), m);

  const setpoints: Setpoint[] = new Array(input.evses.length);
  const cands: Cand[] = [];
  const feeding: Array<{ e: EvseState; index: number; q: PowerRequest; rank: number; i: number }> = [];
  for (let index = 0; index < input.evses.length; index++) {
    const e = input.evses[index] as EvseState;
    if (!SESSION_STATUSES.has(e.status)) {
      setpoints[index] = {
        evseId: e.id,
        currentA: 0,
        powerW: 0,
        phases: e.vehiclePhases ?? e.phases,
        reasons: [reason('device', `no session (${e.status})`)],
      };
      continue;
    }
    const req = reqByEvse.get(e.id);
    if (req && req.lead.powerW < 0 && e.bidirectional) {
      feeding.push({ e, index, q: req.lead, rank: req.leadRank, i: req.leadI });
      continue;
    }
    const prev = prevState.sessions.get(e.id);
    const same = prev && isSessionKey(prev.key, e) ? prev : undefined;
    const key = same ? same.key : sessionKey(e);
    // A session that fed in until now starts charging afresh (ramp, no min-off); until the vehicle has
    // followed, its feed-in current is held as still loading the cables.
    const mem: SessionMemory | undefined =
      same && same.currentA < 0
        ? {
            ...same,
            currentA: 0,
            onSince: undefined,
            offSince: undefined,
            holdA: Math.max(-same.currentA, now < same.holdUntil ? same.holdA : 0),
            holdUntil: now + holdMaxMs,
          }
        : same;
    // Highest measured phase current and the phases the vehicle draws on, from a fresh reading.
    const cr = e.currentsA;
    let measuredA: number | undefined;
    let measuredPhases: 1 | 3 | undefined;
    if (cr?.quality === 'good' && !(now - cr.ts > freshMs)) {
      const v: PhaseValues = cr.value;
      measuredA = Math.max(v[0], v[1], v[2]);
      if (measuredA >= 2) {
        const half = 0.5 * measuredA;
        const used = (v[0] > half ? 1 : 0) + (v[1] > half ? 1 : 0) + (v[2] > half ? 1 : 0);
        measuredPhases = used === 1 ? 1 : 3;
      }
    }
    const vehiclePhases: 1 | 3 =
      e.phases === 1
        ? 1
        : (e.vehiclePhases ?? (mem?.phases === 3 ? measuredPhases : undefined) ?? mem?.vehiclePhases ?? 3);
    const canSwitch =
      e.phases === 3 &&
      vehiclePhases === 3 &&
      (o.phaseSwitchable?.has(e.id) === true || o.phaseSwitchable?.has(e.chargerId) === true);
    let phases: 1 | 3 = vehiclePhases;
    if (canSwitch && mem && mem.phases !== vehiclePhases && now - mem.phasesAt < dwellMs) phases = mem.phases;
    const own = ownLimits.get(e.id);
    let capReasons: readonly Reason[] = maxReasons(e.maxCurrentA);
    let maxA = e.maxCurrentA;
    if (own?.maxCurrentA !== undefined && own.maxCurrentA < maxA) {
      maxA = own.maxCurrentA;
      capReasons = [...own.reasons, ...capReasons];
    }
    const wPerA = phases * e.voltageV;
    if (own?.maxImportW !== undefined && own.maxImportW / wPerA < maxA) {
      maxA = Math.max(0, own.maxImportW / wPerA);
      capReasons = [...own.reasons, ...capReasons];
    }
    // Overdraw: what the vehicle draws above the highest set-point that may still apply. Until the
    // vehicle has shown that it follows its set-point, a default overdraw is reserved for it.
    let learntOverdrawA = mem?.overdrawA ?? 0;
    let overdrawKnown = mem?.overdrawKnown ?? false;
    if (o.learnOverdraw !== false && mem && measuredA !== undefined && mem.currentA > 0) {
      const applied = Math.max(mem.currentA, now < mem.holdUntil ? mem.holdA : 0);
      const over = measuredA - applied;
      if (over > 0.3) {
        learntOverdrawA = Math.min(maxOd, Math.max(learntOverdrawA, over));
        overdrawKnown = true;
      } else if (measuredA >= mem.currentA - 0.5 && (e.currentsA?.ts ?? 0) > mem.setAt) overdrawKnown = true;
    }
    const overdrawA =
      o.learnOverdraw === false ? 0 : overdrawKnown ? learntOverdrawA : Math.max(learntOverdrawA, assumedOd);
    let rank = DEFAULT_RANK;
    if (req) for (let r = 0; r < DEFAULT_RANK; r++) if (req.w[r] !== undefined && rank === DEFAULT_RANK) rank = r;
    const c: Cand = {
      evse: e,
      id: e.id,
      rotation: e.phaseRotation,
      voltageV: e.voltageV,
      index,
      key,
      mem,
      phases,
      mask: siteMask(e.phaseRotation, phases),
      wPerA,
      minA: e.minCurrentA,
      maxA,
      capReasons,
      overdrawA,
      learntOverdrawA,
      overdrawKnown,
      rank,
      urgency: req?.urgency ?? Number.POSITIVE_INFINITY,
      requestW: req?.w ?? NO_W,
      requestReasons: req?.r ?? NO_R,
      cons: pathCons(e.circuitId),
      canSwitch,
      preferred: vehiclePhases,
      admitted: false,
      priority: e.priority,
      since: e.sessionStart ?? 0,
      fresh: 0,
      on: 0,
      cur: 0,
      target: 0,
      active: false,
      frozen: false,
      bindK: undefined,
      bindR: -1,
      start: 0,
      a: 0,
      reasons: capReasons,
      sticky: -1,
      heldA: 0,
      holdNowA: 0,
      measuredA,
      measuredTs: measuredA !== undefined && cr ? cr.ts : 0,
    };
    cands.push(c);
  }

  // 0. V2G feed-in first, most important request first: within the EVSE's maxima, the feed-in caps on
  //    `site` and `evses`, and every phase limit on its path (feed-in current loads the cables too).
  //    Import caps are not used up by feed-in, nor credited with it.
  const dischargeUse = new Float64Array(all.length);
  const feedMems = new Map<string, SessionMemory>();
  feeding.sort((a, b) => a.rank - b.rank || a.i - b.i);
  for (const f of feeding) {
    const e = f.e;
    const phases: 1 | 3 = e.phases === 1 ? 1 : (e.vehiclePhases ?? e.phases);
    const wPerA = phases * e.voltageV;
    const mask = siteMask(e.phaseRotation, phases);
    const cons = pathCons(e.circuitId);
    let w = -f.q.powerW;
    let binding: readonly Reason[] | undefined;
    const cap = (limitW: number, why: readonly Reason[]) => {
      if (limitW < w) {
        w = Math.max(0, limitW);
        binding = why;
      }
    };
    cap(e.maxCurrentA * wPerA, maxReasons(e.maxCurrentA));
    const own = ownLimits.get(e.id);
    if (own?.maxCurrentA !== undefined) cap(own.maxCurrentA * wPerA, own.reasons);
    if (own?.maxExportW !== undefined) cap(own.maxExportW, own.reasons);
    for (const k of exports) if (binds(k, f.rank)) cap(k.head, k.reasons);
    for (const k of cons) {
      if (k.importOnly || !binds(k, f.rank)) continue;
      const cf = k.phase < 0 ? wPerA : mask[k.phase] ? 1 : 0;
      if (cf > 0) cap((k.head / cf) * wPerA, k.reasons);
    }
    const a = Math.floor((w / wPerA) * 10 + EPS) / 10;
    const feedW = a > 0 ? Math.floor(w) : 0;
    const key = sessionKey(e);
    const prevMem = prevState.sessions.get(e.id);
    const prev = prevMem && prevMem.key === key ? prevMem : undefined;
    // A vehicle that was charging keeps drawing until it follows: the cable carries the larger of both.
    const wasCharging = prev !== undefined && prev.currentA > 0;
    const holdA = wasCharging ? prev.currentA : prev && now < prev.holdUntil ? prev.holdA : 0;
    const usedA = Math.max(feedW / wPerA, holdA + (wasCharging ? prev.overdrawA : 0));
    for (const k of cons) {
      if (k.importOnly) continue;
      const cf = k.phase < 0 ? wPerA : mask[k.phase] ? 1 : 0;
      k.head -= usedA * cf;
      dischargeUse[k.id] = (dischargeUse[k.id] as number) + usedA * cf;
    }
    for (const k of exports) k.head -= feedW;
    const reasons: readonly Reason[] =
      a > 0
        ? binding
          ? [...binding, f.q.reason]
          : [f.q.reason]
        : [...(binding ?? []), reason('allocator', 'feed-in requested, but no room for it: paused'), f.q.reason];
    setpoints[f.index] = { evseId: e.id, currentA: a > 0 ? -a : 0, powerW: -feedW || 0, phases, reasons };
    feedMems.set(e.id, {
      key,
      currentA: a > 0 ? -a : 0,
      phases,
      setAt: prev && prev.currentA === -a ? prev.setAt : now,
      onSince: undefined,
      offSince: undefined,
      phasesAt: prev && prev.phases === phases ? prev.phasesAt : now,
      overdrawA: prev?.overdrawA ?? 0,
      overdrawKnown: prev?.overdrawKnown ?? false,
      vehiclePhases: phases,
      holdA,
      holdUntil: wasCharging ? now + holdMaxMs : (prev?.holdUntil ?? 0),
    });
  }

  // 1. Minimums, most important first; whoever does not fit is paused.
  for (const c of cands) {
    const m = c.mem;
    const isOn = m !== undefined && m.currentA > 0;
    c.fresh = isOn && m.onSince !== undefined && now - m.onSince < minOnMs ? 1 : 0;
    c.on = isOn ? 1 : 0;
  }
  const ordered = [...cands].sort(byAdmission);
  for (const c of ordered) {
    if (c.maxA < c.minA) {
      c.pauseReasons = [
        ...c.capReasons,
        reason('allocator', `limit ${fmtA(c.maxA)} below minimum ${fmtA(c.minA)}: paused`),
      ];
      continue;
    }
    if (c.mem && c.mem.currentA === 0 && c.mem.offSince !== undefined && now - c.mem.offSince < minOffMs) {
      c.pauseReasons = [
        reason(
          'allocator',
          `paused ${Math.round((now - c.mem.offSince) / 1000)} s ago; minimum off time ${minOffMs / 1000} s`,
        ),
      ];
      continue;
    }
    const options = c.canSwitch ? (c.phases === 3 ? THREE_THEN_ONE : ONE_THEN_THREE) : c.phases === 3 ? THREE : ONE;
    let failed: Constraint | undefined;
    for (const ph of options) {
      if (c.canSwitch && ph !== c.phases && c.mem && now - c.mem.phasesAt < dwellMs && c.mem.phases === c.phases)
        continue;
      const mask = siteMask(c.rotation, ph);
      const wPerA = ph * c.voltageV;
      // A session with a request (a deadline) reserves what it asked for, least laxity first:
      // with more sessions than minimums fit, the urgent ones must not all sit at their minimum.
      const reqW = c.rank < DEFAULT_RANK ? c.requestW[c.rank] : undefined;
      const wantA = reqW !== undefined ? Math.max(c.minA, Math.min(c.maxA, reqW / wPerA)) : c.minA;
      let grant = wantA;
      let bad = overrun(c.cons, c.rank, grant + c.overdrawA, mask, wPerA);
      if (bad && wantA > c.minA) {
        grant = c.minA;
        bad = overrun(c.cons, c.rank, grant + c.overdrawA, mask, wPerA);
      }
      if (bad) {
        failed ??= bad;
        continue;
      }
      const need = grant + c.overdrawA;
      if (ph !== c.phases) {
        const own = ownLimits.get(c.id);
        if (own?.maxImportW !== undefined)
          c.maxA = Math.min(
            c.maxA * (c.wPerA / wPerA),
            c.evse.maxCurrentA,
            own.maxImportW / wPerA,
            own.maxCurrentA ?? Number.POSITIVE_INFINITY,
          );
      }
      c.phases = ph;
      c.mask = mask;
      c.wPerA = wPerA;
      for (const k of c.cons) k.head -= need * coef(k, c);
      c.admitted = true;
      c.cur = grant;
      const rr = c.rank < DEFAULT_RANK ? c.requestReasons[c.rank] : undefined;
      // Built only if water-filling does not move the session on (`bindingOf`).
      if (grant > c.minA && rr) c.bindR = BY_REQUEST;
      else
        c.binding =
          bad === undefined && grant < wantA && failed
            ? [...failed.reasons, reason('allocator', `minimum ${fmtA(c.minA)}`)]
            : minReasons(c.minA);
      break;
    }
    if (!c.admitted) c.pauseReasons = pausedBy(failed, c.minA);
  }

  // 2. Requests tier by tier, then everyone up to their maximum: water-filling.
  const admitted = cands.filter((c) => c.admitted);
  for (let r = 0; r <= DEFAULT_RANK; r++) {
    const stage: Cand[] = [];
    for (const c of admitted) {
      let target: number;
      if (r === DEFAULT_RANK) target = c.maxA;
      else {
        const w = c.requestW[r];
        if (w === undefined) continue;
        target = Math.min(c.maxA, w / c.wPerA);
      }
      if (target <= c.cur + EPS) continue;
      c.target = target;
      stage.push(c);
    }
    if (stage.length > 0) waterFill(stage, all, r);
  }

  // 3. Hysteresis: slow up, dead-band; decreases always go through at once.
  const mems = new Map<string, SessionMemory>(feedMems);
  let pending = false;
  for (const c of cands) {
    const prevA = c.mem?.currentA ?? 0;
    let a = c.admitted ? Math.floor(c.cur * 10 + EPS) / 10 : 0;
    let reasons: readonly Reason[] = c.admitted ? bindingOf(c) : (c.pauseReasons ?? []);
    if (a > 0 && c.admitted) {
      let extra: Reason[] | undefined;
      for (let r = 0; r < DEFAULT_RANK; r++) {
        const rr = c.requestReasons[r];
        if (!rr || reasons.includes(rr)) continue;
        if (extra) extra.push(rr);
        else extra = [rr];
      }
      if (extra) reasons = [...reasons, ...extra];
    }
    if (a > 0 && prevA === 0 && a > c.minA + rampUp) {
      a = Math.floor((c.minA + rampUp) * 10) / 10;
      reasons = [reason('allocator', `starting; ramping up ${rampUp} A/s towards ${fmtA(c.cur)}`), ...reasons];
    } else if (a > prevA && prevA > 0 && c.mem && c.mem.phases === c.phases) {
      const dt = Math.max(0, now - c.mem.setAt) / 1000;
      const cap = prevA + Math.max(deadbandA, rampUp * dt);
      if (a > cap) {
        a = Math.floor(cap * 10) / 10;
        reasons = [reason('allocator', `ramping up ${rampUp} A/s towards ${fmtA(c.cur)}`), ...reasons];
      } else if (a - prevA < deadbandA) {
        a = prevA;
      }
    }
    // Dead-band down: keep the previous current while it still fits (checked in step 4).
    let sticky = -1;
    if (a > 0 && a < prevA && prevA - a < deadbandA && c.mem && c.mem.phases === c.phases) {
      sticky = a;
      a = prevA;
    }
    c.a = a;
    c.reasons = reasons;
    c.sticky = sticky;
    // A decrease is not in effect until the vehicle follows it; one issued in this very round is
    // not followed yet either.
    c.heldA = held(c, now, holdTol);
    c.holdNowA = Math.max(c.heldA, a < prevA ? prevA : 0);
    if (sticky >= 0 || c.holdNowA > 0) pending = true;
  }

  // 4. Hold back increases that would only fit once someone else has actually reduced (vehicles
  //    answer in 2-30 s).
  const used = new Float64Array(all.length);
  const over = new Uint8Array(all.length);
  for (let iter = 0; iter < 6 && pending; iter++) {
    used.set(dischargeUse);
    for (const c of cands) {
      const effA = Math.max(c.a, c.holdNowA);
      if (effA <= 0) continue;
      const ph = c.a > 0 || !c.mem ? c.phases : c.mem.phases;
      const mask = siteMask(c.rotation, ph);
      const wPerA = ph * c.voltageV;
      const load = effA + c.overdrawA;
      for (const k of c.cons) {
        const cf = k.phase < 0 ? wPerA : mask[k.phase] ? 1 : 0;
        if (cf !== 0) used[k.id] = (used[k.id] as number) + load * cf;
      }
    }
    let anyOver = false;
    for (const k of all) {
      const isOver = (used[k.id] as number) > k.capacity + 1e-6;
      over[k.id] = isOver ? 1 : 0;
      if (isOver) anyOver = true;
    }
    if (!anyOver) break;
    // First give up the dead-band where it no longer fits, then hold back increases.
    let changed = false;
    for (const c of cands) {
      if (c.sticky >= 0 && firstOver(c.cons, over, false)) {
        c.a = c.sticky;
        c.sticky = -1;
        changed = true;
      }
    }
    if (!changed) {
      for (const c of cands) {
        const prevA = c.mem?.currentA ?? 0;
        if (c.a <= prevA) continue;
        const k = firstOver(c.cons, over, true);
        if (!k) continue;
        c.a = prevA;
        c.reasons = [
          reason('allocator', 'increase held until other vehicles have followed their decrease'),
          ...k.reasons,
          ...c.reasons,
        ];
        changed = true;
      }
    }
    pending = changed;
  }

  for (const c of cands) {
    const a = c.a;
    const prev = c.mem;
    const prevA = prev?.currentA ?? 0;
    const changed = Math.abs(a - prevA) > EPS;
    const h = c.heldA;
    const decrease = a < prevA - EPS;
    const holdA = Math.max(decrease ? Math.max(prevA, h) : h, 0);
    const phases = a > 0 ? c.phases : (prev?.phases ?? c.phases);
    const setAt = changed || !prev ? now : prev.setAt;
    const onSince = a > 0 ? (prevA > 0 && prev?.onSince !== undefined ? prev.onSince : now) : undefined;
    // Min-off protects relays and vehicles from on/off toggling: it starts when a session that
    // was on is paused, never for a session that has not been on yet (it is admitted as soon as it fits).
    const offSince = a === 0 && prev ? (prevA === 0 ? prev.offSince : now) : undefined;
    const phasesAt = prev && prev.phases === phases ? prev.phasesAt : now;
    const holdUntil = decrease ? now + holdMaxMs : (prev?.holdUntil ?? 0);
    // A session whose memory did not change keeps its object: most do, every round.
    const same =
      prev !== undefined &&
      prev.key === c.key &&
      prev.currentA === a &&
      prev.phases === phases &&
      prev.setAt === setAt &&
      prev.onSince === onSince &&
      prev.offSince === offSince &&
      prev.phasesAt === phasesAt &&
      prev.overdrawA === c.learntOverdrawA &&
      prev.overdrawKnown === c.overdrawKnown &&
      prev.vehiclePhases === c.preferred &&
      prev.holdA === holdA &&
      prev.holdUntil === holdUntil;
    mems.set(
      c.id,
      same
        ? prev
        : {
            key: c.key,
            currentA: a,
            phases,
            setAt,
            onSince,
            offSince,
            phasesAt,
            overdrawA: c.learntOverdrawA,
            overdrawKnown: c.overdrawKnown,
            vehiclePhases: c.preferred,
            holdA,
            holdUntil,
          },
    );
    setpoints[c.index] = {
      evseId: c.id,
      currentA: a,
      powerW: a * c.phases * c.voltageV,
      phases,
      reasons: c.reasons,
    };
  }
  return { setpoints, state: { sessions: mems } };
}

/**
 * Raise a common water level: every active session is at max(its current,
 * level) until it reaches its target or one of its constraints (of a tier
 * at least as important as this stage) is full, which freezes all sessions
 * sharing that constraint. Sorted event lists keep it near O(n log n).
 * A frozen session records what froze it (`bindK`, `bindR`); its reason
 * list is built once, for the final set-point (`bindingOf`).
 */
function waterFill(stage: Cand[], all: readonly Constraint[], rank: number): void {
  const bound = Math.max(rank, PHYSICAL_RANK);
  for (const k of all) {
    k.rate = 0;
    k.members.length = 0;
  }
  for (const c of stage) {
    c.active = false;
    c.frozen = false;
    c.start = c.cur;
    const mask = c.mask;
    for (const k of c.cons) if (k.rank <= bound && (k.phase < 0 ? c.wPerA > 0 : mask[k.phase])) k.members.push(c);
  }
  const live = all.filter((k) => k.rank <= bound && k.members.length > 0);
  const byStart = [...stage].sort(byStartA);
  const byTarget = [...stage].sort(byTargetA);
  let si = 0;
  let ti = 0;
  let level = byStart[0]?.cur ?? 0;
  let remaining = stage.length;
  for (let guard = 0; remaining > 0 && guard < 4 * stage.length + 4 * live.length + 10; guard++) {
    while (si < byStart.length && (byStart[si] as Cand).start <= level + EPS) {
      const c = byStart[si++] as Cand;
      if (c.frozen) continue;
      c.active = true;
      addRate(c, 1);
    }
    // Constraints already full freeze their members before the level moves.
    let satisfied = false;
    for (const k of live) {
      if (k.rate > EPS && k.head <= EPS * Math.max(1, k.capacity)) {
        for (const m of k.members) if (m.active) remaining -= freeze(m, level, k, rank);
        satisfied = true;
      }
    }
    if (satisfied) continue;
    while (ti < byTarget.length && (byTarget[ti] as Cand).frozen) ti++;
    let d = Number.POSITIVE_INFINITY;
    if (si < byStart.length) d = Math.min(d, (byStart[si] as Cand).start - level);
    for (let j = ti; j < byTarget.length; j++) {
      const c = byTarget[j] as Cand;
      if (c.frozen || !c.active) continue;
      d = Math.min(d, c.target - level);
      break;
    }
    for (const k of live) if (k.rate > EPS) d = Math.min(d, k.head / k.rate);
    if (!Number.isFinite(d)) break;
    d = Math.max(0, d);
    level += d;
    // Every constraint records the usage, even those of less important tiers that do not bind this stage.
    for (const k of all) if (k.rate > EPS) k.head -= k.rate * d;
    // Inactive sessions already sit above the level: their usage is counted since admission.
    for (let j = ti; j < byTarget.length; j++) {
      const c = byTarget[j] as Cand;
      if (c.frozen) continue;
      if (c.target > level + EPS) break;
      if (c.active) remaining -= freeze(c, c.target, undefined, rank);
    }
  }
  for (const c of stage) if (!c.frozen && c.active) freeze(c, Math.min(level, c.target), undefined, rank);
  for (const c of stage) c.active = false;
}

// Comparators return -1/0/1, not a difference: a difference of two doubles is a heap number per comparison.
const byStartA = (a: Cand, b: Cand) => (a.cur < b.cur ? -1 : a.cur > b.cur ? 1 : 0);
const byTargetA = (a: Cand, b: Cand) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0);

/** Add (sign 1) or remove (sign -1) a session's rate of use on every constraint on its path. */
function addRate(c: Cand, sign: number): void {
  const mask = c.mask;
  const w = sign * c.wPerA;
  for (const k of c.cons) {
    if (k.phase < 0) k.rate += w;
    else if (mask[k.phase]) k.rate += sign;
  }
}

/** Freeze a session at `a`, held by constraint `k` (or by its own target); 1 when it was still moving. */
function freeze(c: Cand, a: number, k: Constraint | undefined, rank: number): number {
  if (c.frozen) return 0;
  c.frozen = true;
  c.cur = a;
  c.binding = undefined;
  c.bindK = k;
  c.bindR = rank;
  if (c.active) addRate(c, -1);
  c.active = false;
  return 1;
}

/**
 * Why a session whose minimum does not fit is paused. Sessions paused by the same constraint at the
 * same minimum share one list (hundreds of them when a budget is short).
 */
function pausedBy(k: Constraint | undefined, minA: number): readonly Reason[] {
  if (k?.paused && k.pausedMinA === minA) return k.paused;
  const r = [
    ...(k?.reasons ?? []),
    reason('allocator', `paused: minimum ${fmtA(minA)} does not fit; higher priority or more urgent sessions first`),
  ];
  if (k) {
    k.paused = r;
    k.pausedMinA = minA;
  }
  return r;
}

/** Admission order: priority, a session switched on recently, tier, urgency, on at all, arrival, id. */
function byAdmission(a: Cand, b: Cand): number {
  return (
    b.priority - a.priority ||
    b.fresh - a.fresh ||
    a.rank - b.rank ||
    (a.urgency < b.urgency ? -1 : a.urgency > b.urgency ? 1 : 0) ||
    b.on - a.on ||
    (a.since < b.since ? -1 : a.since > b.since ? 1 : 0) ||
    (a.evse.id < b.evse.id ? -1 : a.evse.id > b.evse.id ? 1 : 0)
  );
}

/** What a decrease not yet followed still draws, A (0 once the vehicle is seen following it). */
function held(c: Cand, now: number, holdTol: number): number {
  const m = c.mem;
  if (!m || m.holdA <= 0 || now >= m.holdUntil) return 0;
  if (c.measuredA !== undefined && c.measuredTs > m.setAt && c.measuredA <= m.currentA + holdTol + c.overdrawA)
    return 0;
  return m.holdA;
}

/** The first constraint on a path that is over (only safety, grid and contract ones when `physicalOnly`). */
function firstOver(cons: readonly Constraint[], over: Uint8Array, physicalOnly: boolean): Constraint | undefined {
  for (const k of cons) if (over[k.id] === 1 && (!physicalOnly || k.rank <= PHYSICAL_RANK)) return k;
  return undefined;
}

/** The reasons of an admitted session's current, built once for its set-point. */
function bindingOf(c: Cand): readonly Reason[] {
  if (c.bindR === BY_REQUEST) return [c.requestReasons[c.rank] as Reason, ...c.capReasons];
  if (c.bindR < 0) return c.binding ?? c.capReasons;
  const own = c.bindR === DEFAULT_RANK ? c.capReasons : [c.requestReasons[c.bindR] as Reason, ...c.capReasons];
  return c.bindK ? [...c.bindK.reasons, ...own] : own;
}
