import type { Limit, PowerRequest, Reason, Setpoint } from '../model/decision.js';
import { tierRank } from '../model/decision.js';
import { type EvseState, type PhaseValues, SESSION_STATUSES } from '../model/site.js';
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

const DEFAULT_RANK = 5; // below optimisation: capacity nobody asked for
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
}

interface Cand {
  readonly evse: EvseState;
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
  readonly requestW: Array<number | undefined>;
  readonly requestReasons: Array<Reason | undefined>;
  readonly cons: Constraint[];
  readonly canSwitch: boolean;
  readonly preferred: 1 | 3;
  admitted: boolean;
  /** Sort keys: switched on less than minOnMs ago (keeps its place); on at all. */
  fresh: number;
  on: number;
  cur: number;
  target: number;
  active: boolean;
  frozen: boolean;
  binding?: readonly Reason[];
  pauseReasons?: readonly Reason[];
  measuredA: number | undefined;
}

const reason = (policy: string, text: string): Reason => ({ policy, tier: 'safety', text });

/** Reasons that repeat every round for every session are built once. */
const REASONS = new Map<string, readonly Reason[]>();
function cached(key: string, make: () => Reason): readonly Reason[] {
  let r = REASONS.get(key);
  if (!r) {
    r = [make()];
    REASONS.set(key, r);
  }
  return r;
}

function coef(k: Constraint, c: Cand): number {
  return k.phase < 0 ? c.wPerA : c.mask[k.phase] ? 1 : 0;
}

function sessionKey(e: EvseState): string {
  return `${e.sessionId ?? ''}@${e.sessionStart ?? ''}`;
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
  const add = (nodeId: string | undefined, k: Omit<Constraint, 'id' | 'rate' | 'members' | 'head'>) => {
    if (!Number.isFinite(k.capacity)) return;
    // Built explicitly, not spread: this runs for every node on every round.
    const c: Constraint = {
      id: all.length,
      rank: k.rank,
      capacity: k.capacity,
      phase: k.phase,
      importOnly: k.importOnly,
      reasons: k.reasons,
      // A small part of every limit is not handed out, so that a limit moving by less than that
      // (meter noise) leaves the set-points as they are: see the dead-band in step 3.
      head: Math.max(0, k.capacity * (1 - reserve)),
      rate: 0,
      members: [],
    };
    all.push(c);
    if (nodeId === undefined) return c;
    const list = byNode.get(nodeId) ?? [];
    list.push(c);
    byNode.set(nodeId, list);
    return c;
  };
  for (const n of input.tree.nodes.values()) {
    const label = n.id === input.tree.root ? 'site connection' : `circuit ${n.id}`;
    n.maxPhaseCurrentsA.forEach((cap, p) => {
      add(n.id, {
        rank: 0,
        capacity: cap,
        phase: p,
        importOnly: false,
        reasons: treeReason(input.tree, `${n.id}#${p}`, () => `${label} fuse ${cap} A on L${p + 1}`),
      });
    });
    if (n.maxPowerW !== undefined) {
      add(n.id, {
        rank: 0,
        capacity: n.maxPowerW,
        phase: -1,
        importOnly: false,
        reasons: treeReason(
          input.tree,
          `${n.id}#W`,
          () => `${label} limit ${((n.maxPowerW ?? 0) / 1000).toFixed(1)} kW`,
        ),
      });
    }
  }
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
        const k = add(nodeId, { rank, capacity: powerW, phase: -1, importOnly: true, reasons: [l.reason] });
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
          add(nodeId, { rank, capacity: v, phase: p, importOnly: false, reasons: [l.reason] });
        }
      }
    }
  }
  return { byNode, evses, all, exports };
}

/** Highest measured phase current and the phases the vehicle draws on, from a fresh reading. */
function measure(e: EvseState, now: number, freshMs: number): { maxA: number; phases?: 1 | 3 } | undefined {
  const r = e.currentsA;
  if (r?.quality !== 'good' || now - r.ts > freshMs) return undefined;
  const v: PhaseValues = r.value;
  const maxA = Math.max(v[0], v[1], v[2]);
  if (maxA < 2) return { maxA };
  const used = v.filter((x) => x > 0.5 * maxA).length;
  return { maxA, phases: used === 1 ? 1 : 3 };
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
  const reqByEvse = new Map<string, { w: Array<number | undefined>; r: Array<Reason | undefined>; urgency: number }>();
  // The most important request per EVSE decides its direction: a negative one is V2G feed-in.
  const leadByEvse = new Map<string, { q: PowerRequest; rank: number; i: number }>();
  (input.requests ?? []).forEach((q, i) => {
    const id = q.target.startsWith('evse:') ? q.target.slice(5) : q.target;
    const lead = leadByEvse.get(id);
    if (!lead || tierRank(q.reason.tier) < lead.rank) leadByEvse.set(id, { q, rank: tierRank(q.reason.tier), i });
    if (q.powerW <= 0) return;
    const rank = tierRank(q.reason.tier);
    const entry = reqByEvse.get(id) ?? { w: [], r: [], urgency: i };
    if ((entry.w[rank] ?? 0) < q.powerW) {
      entry.w[rank] = q.powerW;
      entry.r[rank] = q.reason;
    }
    entry.urgency = Math.min(entry.urgency, i);
    reqByEvse.set(id, entry);
  });

  const setpoints: Setpoint[] = new Array(input.evses.length);
  const cands: Cand[] = [];
  const feeding: Array<{ e: EvseState; index: number; q: PowerRequest; rank: number; i: number }> = [];
  input.evses.forEach((e, index) => {
    if (!SESSION_STATUSES.has(e.status)) {
      setpoints[index] = {
        evseId: e.id,
        currentA: 0,
        powerW: 0,
        phases: e.vehiclePhases ?? e.phases,
        reasons: [reason('device', `no session (${e.status})`)],
      };
      return;
    }
    const lead = leadByEvse.get(e.id);
    if (lead && lead.q.powerW < 0 && e.bidirectional) {
      feeding.push({ e, index, ...lead });
      return;
    }
    const key = sessionKey(e);
    const prev = prevState.sessions.get(e.id);
    const same = prev && prev.key === key ? prev : undefined;
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
    const m = measure(e, now, freshMs);
    const vehiclePhases: 1 | 3 =
      e.phases === 1 ? 1 : (e.vehiclePhases ?? (mem?.phases === 3 ? m?.phases : undefined) ?? mem?.vehiclePhases ?? 3);
    const canSwitch =
      e.phases === 3 &&
      vehiclePhases === 3 &&
      (o.phaseSwitchable?.has(e.id) === true || o.phaseSwitchable?.has(e.chargerId) === true);
    let phases: 1 | 3 = vehiclePhases;
    if (canSwitch && mem && mem.phases !== vehiclePhases && now - mem.phasesAt < dwellMs) phases = mem.phases;
    const own = input.limits.get(`evse:${e.id}`);
    let capReasons: readonly Reason[] = cached(`max${e.maxCurrentA}`, () =>
      reason('device', `charger maximum ${e.maxCurrentA} A`),
    );
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
    if (o.learnOverdraw !== false && mem && m && mem.currentA > 0) {
      const applied = Math.max(mem.currentA, now < mem.holdUntil ? mem.holdA : 0);
      const over = m.maxA - applied;
      if (over > 0.3) {
        learntOverdrawA = Math.min(maxOd, Math.max(learntOverdrawA, over));
        overdrawKnown = true;
      } else if (m.maxA >= mem.currentA - 0.5 && (e.currentsA?.ts ?? 0) > mem.setAt) overdrawKnown = true;
    }
    const overdrawA =
      o.learnOverdraw === false ? 0 : overdrawKnown ? learntOverdrawA : Math.max(learntOverdrawA, assumedOd);
    const req = reqByEvse.get(e.id);
    let rank = DEFAULT_RANK;
    if (req) for (let r = 0; r < DEFAULT_RANK; r++) if (req.w[r] !== undefined && rank === DEFAULT_RANK) rank = r;
    const c: Cand = {
      evse: e,
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
      requestW: req?.w ?? [],
      requestReasons: req?.r ?? [],
      cons: pathCons(e.circuitId),
      canSwitch,
      preferred: vehiclePhases,
      admitted: false,
      fresh: 0,
      on: 0,
      cur: 0,
      target: 0,
      active: false,
      frozen: false,
      measuredA: m?.maxA,
    };
    cands.push(c);
  });

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
    cap(
      e.maxCurrentA * wPerA,
      cached(`max${e.maxCurrentA}`, () => reason('device', `charger maximum ${e.maxCurrentA} A`)),
    );
    const own = input.limits.get(`evse:${e.id}`);
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
  const ordered = [...cands].sort(
    (a, b) =>
      b.evse.priority - a.evse.priority ||
      b.fresh - a.fresh ||
      a.rank - b.rank ||
      a.urgency - b.urgency ||
      b.on - a.on ||
      (a.evse.sessionStart ?? 0) - (b.evse.sessionStart ?? 0) ||
      (a.evse.id < b.evse.id ? -1 : a.evse.id > b.evse.id ? 1 : 0),
  );
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
    const options: Array<1 | 3> = c.canSwitch ? (c.phases === 3 ? [3, 1] : [1, 3]) : [c.phases];
    let failed: Constraint | undefined;
    for (const ph of options) {
      if (c.canSwitch && ph !== c.phases && c.mem && now - c.mem.phasesAt < dwellMs && c.mem.phases === c.phases)
        continue;
      const mask = siteMask(c.evse.phaseRotation, ph);
      const wPerA = ph * c.evse.voltageV;
      // A session with a request (a deadline) reserves what it asked for, least laxity first:
      // with more sessions than minimums fit, the urgent ones must not all sit at their minimum.
      const reqW = c.rank < DEFAULT_RANK ? c.requestW[c.rank] : undefined;
      const wantA = reqW !== undefined ? Math.max(c.minA, Math.min(c.maxA, reqW / wPerA)) : c.minA;
      const fits = (a: number) =>
        c.cons.find((k) => binds(k, c.rank) && k.head - a * (k.phase < 0 ? wPerA : mask[k.phase] ? 1 : 0) < -EPS);
      let grant = wantA;
      let bad = fits(grant + c.overdrawA);
      if (bad && wantA > c.minA) {
        grant = c.minA;
        bad = fits(grant + c.overdrawA);
      }
      if (bad) {
        failed ??= bad;
        continue;
      }
      const need = grant + c.overdrawA;
      if (ph !== c.phases) {
        const own = input.limits.get(`evse:${c.evse.id}`);
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
      c.binding =
        grant > c.minA && rr
          ? [rr, ...c.capReasons]
          : bad === undefined && grant < wantA && failed
            ? [...failed.reasons, reason('allocator', `minimum ${fmtA(c.minA)}`)]
            : cached(`min${c.minA}`, () => reason('allocator', `minimum ${fmtA(c.minA)}`));
      break;
    }
    if (!c.admitted) {
      c.pauseReasons = [
        ...(failed?.reasons ?? []),
        reason(
          'allocator',
          `paused: minimum ${fmtA(c.minA)} does not fit; higher priority or more urgent sessions first`,
        ),
      ];
    }
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
    if (stage.length > 0)
      waterFill(stage, all, r, (c) =>
        r === DEFAULT_RANK ? c.capReasons : [c.requestReasons[r] as Reason, ...c.capReasons],
      );
  }

  // 3. Hysteresis: slow up, dead-band; decreases always go through at once.
  const mems = new Map<string, SessionMemory>(feedMems);
  const result: Array<{ c: Cand; a: number; reasons: readonly Reason[]; sticky: number }> = [];
  for (const c of cands) {
    const prevA = c.mem?.currentA ?? 0;
    let a = c.admitted ? Math.floor(c.cur * 10 + EPS) / 10 : 0;
    let reasons: readonly Reason[] = c.admitted ? (c.binding ?? c.capReasons) : (c.pauseReasons ?? []);
    if (a > 0 && c.admitted) {
      const extra: Reason[] = [];
      for (let r = 0; r < DEFAULT_RANK; r++) {
        const rr = c.requestReasons[r];
        if (rr && !reasons.includes(rr)) extra.push(rr);
      }
      if (extra.length) reasons = [...reasons, ...extra];
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
    result.push({ c, a, reasons, sticky });
  }

  // 4. A decrease is not in effect until the vehicle follows it: hold back increases that would
  //    only fit once someone else has actually reduced (vehicles answer in 2-30 s).
  const held = (c: Cand): number => {
    const m = c.mem;
    if (!m || m.holdA <= 0 || now >= m.holdUntil) return 0;
    if (
      c.measuredA !== undefined &&
      c.evse.currentsA &&
      c.evse.currentsA.ts > m.setAt &&
      c.measuredA <= m.currentA + holdTol + c.overdrawA
    )
      return 0;
    return m.holdA;
  };
  // A decrease issued in this very round is not followed yet either.
  const holds = result.map((x) => Math.max(held(x.c), x.a < (x.c.mem?.currentA ?? 0) ? (x.c.mem?.currentA ?? 0) : 0));
  let pending = result.some((x) => x.sticky >= 0) || holds.some((h) => h > 0);
  const used = new Float64Array(all.length);
  for (let iter = 0; iter < 6 && pending; iter++) {
    used.set(dischargeUse);
    result.forEach((x, i) => {
      const effA = Math.max(x.a, holds[i] as number);
      if (effA <= 0) return;
      const ph = x.a > 0 || !x.c.mem ? x.c.phases : x.c.mem.phases;
      const mask = siteMask(x.c.evse.phaseRotation, ph);
      for (const k of x.c.cons) {
        const cf = k.phase < 0 ? ph * x.c.evse.voltageV : mask[k.phase] ? 1 : 0;
        if (cf !== 0) used[k.id] = (used[k.id] as number) + (effA + x.c.overdrawA) * cf;
      }
    });
    const over = all.filter((k) => (used[k.id] as number) > k.capacity + 1e-6);
    if (over.length === 0) break;
    const overIds = new Set(over.map((k) => k.id));
    const inOver = (x: (typeof result)[number], physicalOnly: boolean) =>
      x.c.cons.some((k) => overIds.has(k.id) && (!physicalOnly || k.rank <= PHYSICAL_RANK));
    // First give up the dead-band where it no longer fits, then hold back increases.
    let changed = false;
    for (const x of result) {
      if (x.sticky >= 0 && inOver(x, false)) {
        x.a = x.sticky;
        x.sticky = -1;
        changed = true;
      }
    }
    if (!changed) {
      for (const x of result) {
        const prevA = x.c.mem?.currentA ?? 0;
        if (x.a <= prevA || !inOver(x, true)) continue;
        const k = x.c.cons.find((q) => overIds.has(q.id) && q.rank <= PHYSICAL_RANK) as Constraint;
        x.a = prevA;
        x.reasons = [
          reason('allocator', 'increase held until other vehicles have followed their decrease'),
          ...k.reasons,
          ...x.reasons,
        ];
        changed = true;
      }
    }
    pending = changed;
  }

  for (const { c, a, reasons } of result) {
    const prev = c.mem;
    const prevA = prev?.currentA ?? 0;
    const changed = Math.abs(a - prevA) > EPS;
    const h = held(c);
    const decrease = a < prevA - EPS;
    const holdA = decrease ? Math.max(prevA, h) : h;
    const phases = a > 0 ? c.phases : (prev?.phases ?? c.phases);
    mems.set(c.evse.id, {
      key: c.key,
      currentA: a,
      phases,
      setAt: changed || !prev ? now : prev.setAt,
      onSince: a > 0 ? (prevA > 0 && prev?.onSince !== undefined ? prev.onSince : now) : undefined,
      // Min-off protects relays and vehicles from on/off toggling: it starts when a session that
      // was on is paused, never for a session that has not been on yet (it is admitted as soon as it fits).
      offSince: a === 0 && prev ? (prevA === 0 ? prev.offSince : now) : undefined,
      phasesAt: prev && prev.phases === phases ? prev.phasesAt : now,
      overdrawA: c.learntOverdrawA,
      overdrawKnown: c.overdrawKnown,
      vehiclePhases: c.preferred,
      holdA: Math.max(holdA, 0),
      holdUntil: decrease ? now + holdMaxMs : (prev?.holdUntil ?? 0),
    });
    setpoints[c.index] = {
      evseId: c.evse.id,
      currentA: a,
      powerW: a * c.phases * c.evse.voltageV,
      phases,
      reasons,
    };
  }
  return { setpoints, state: { sessions: mems } };
}

/**
 * Raise a common water level: every active session is at max(its current,
 * level) until it reaches its target or one of its constraints (of a tier
 * at least as important as this stage) is full, which freezes all sessions
 * sharing that constraint. Sorted event lists keep it near O(n log n).
 */
function waterFill(
  stage: Cand[],
  all: readonly Constraint[],
  rank: number,
  capReasonsOf: (c: Cand) => readonly Reason[],
): void {
  for (const k of all) {
    k.rate = 0;
    k.members = [];
  }
  for (const c of stage) {
    c.active = false;
    c.frozen = false;
    for (const k of c.cons) if (binds(k, rank) && coef(k, c) > 0) k.members.push(c);
  }
  const live = all.filter((k) => binds(k, rank) && k.members.length > 0);
  const byStart = [...stage].sort((a, b) => a.cur - b.cur);
  const byTarget = [...stage].sort((a, b) => a.target - b.target);
  let si = 0;
  let ti = 0;
  let level = byStart[0]?.cur ?? 0;
  let remaining = stage.length;
  const start = new Map(stage.map((c) => [c, c.cur]));
  const freeze = (c: Cand, a: number, why: readonly Reason[]) => {
    if (c.frozen) return;
    c.frozen = true;
    c.cur = a;
    c.binding = why;
    remaining--;
    if (c.active) for (const k of c.cons) k.rate -= coef(k, c);
    c.active = false;
  };
  for (let guard = 0; remaining > 0 && guard < 4 * stage.length + 4 * live.length + 10; guard++) {
    while (si < byStart.length && (start.get(byStart[si] as Cand) as number) <= level + EPS) {
      const c = byStart[si++] as Cand;
      if (c.frozen) continue;
      c.active = true;
      for (const k of c.cons) k.rate += coef(k, c);
    }
    // Constraints already full freeze their members before the level moves.
    let satisfied = false;
    for (const k of live) {
      if (k.rate > EPS && k.head <= EPS * Math.max(1, k.capacity)) {
        for (const m of k.members) if (m.active) freeze(m, level, [...k.reasons, ...capReasonsOf(m)]);
        satisfied = true;
      }
    }
    if (satisfied) continue;
    while (ti < byTarget.length && (byTarget[ti] as Cand).frozen) ti++;
    let d = Number.POSITIVE_INFINITY;
    if (si < byStart.length) d = Math.min(d, (start.get(byStart[si] as Cand) as number) - level);
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
      if (c.active) freeze(c, c.target, capReasonsOf(c));
    }
  }
  for (const c of stage) if (!c.frozen && c.active) freeze(c, Math.min(level, c.target), capReasonsOf(c));
  for (const c of stage) c.active = false;
}
