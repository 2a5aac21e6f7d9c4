import { type Cand, type Constraint, DEFAULT_RANK, EPS, PHYSICAL_RANK } from './types.js';

/**
 * Step 2: the admitted sessions' requests tier by tier, then everyone up to their maximum, each
 * stage by water-filling.
 */
export function fillTiers(cands: readonly Cand[], all: readonly Constraint[]): void {
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
