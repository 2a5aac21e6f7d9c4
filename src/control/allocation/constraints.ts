import type { Limit, Reason } from '../../model/decision.js';
import { tierRank } from '../../model/decision.js';
import type { CircuitTree } from '../circuit-tree.js';
import { reason } from './reasons.js';
import { type Cand, type Constraint, EPS, PHYSICAL_RANK, type TreeAllocationInput } from './types.js';

// The constraints of a round: every tree node's fuses and power ratings, and every dynamic limit,
// tiered; and the checks the steps make against them.

/**
 * Does a constraint bind a request of this rank? Safety, grid and contract limits (fuses, DR caps,
 * contracted capacity) bind every request: a grid-tier dispatch asking a vehicle to take more must
 * not push the chargers past the site's contract. Fleet and optimisation limits are preferences and
 * bind only their own tier and below (a solar limit never holds back a fleet deadline).
 */
export function binds(k: Constraint, rank: number): boolean {
  return k.rank <= Math.max(rank, PHYSICAL_RANK);
}

/** The first constraint binding `rank` that `a` amperes on these phases would overrun. */
export function overrun(
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

export function coef(k: Constraint, c: Cand): number {
  return k.phase < 0 ? c.wPerA : c.mask[k.phase] ? 1 : 0;
}

/** The first constraint on a path that is over (only safety, grid and contract ones when `physicalOnly`). */
export function firstOver(
  cons: readonly Constraint[],
  over: Uint8Array,
  physicalOnly: boolean,
): Constraint | undefined {
  for (const k of cons) if (over[k.id] === 1 && (!physicalOnly || k.rank <= PHYSICAL_RANK)) return k;
  return undefined;
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
export function buildConstraints(
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
      bound: undefined,
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
        bound: undefined,
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
