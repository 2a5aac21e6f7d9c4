/** One charging session as the baseline sees it. */
export interface BaselineSession {
  readonly id: string;
  /** Site phases (0..2) the vehicle draws on. */
  readonly sitePhases: readonly number[];
  readonly minA: number;
  readonly maxA: number;
  /** Current the charge plan needs to meet the deadline, A (0: no deadline). */
  readonly requiredA: number;
  /** Smaller first: deadline sessions by slack, then the others by arrival. */
  readonly order: number;
  /** Circuit nodes from the charger's circuit up to (not including) the site. */
  readonly path: readonly string[];
}

/** What is left for the chargers after the building load and the margins. */
export interface BaselineBudget {
  readonly phaseA: readonly [number, number, number];
  readonly powerW: number;
  readonly circuitA: ReadonlyMap<string, readonly [number, number, number]>;
  readonly voltageV: number;
}

/**
 * The 30 s controller's sharing rule, as circuit-aware open-source EMSs do
 * it: minimum current to as many sessions as fit (most urgent first), then
 * what the charge plans need, then the rest shared equally in 1 A steps;
 * every phase of the site and of every circuit is checked for each step.
 */
export function allocate(sessions: readonly BaselineSession[], budget: BaselineBudget): Map<string, number> {
  const usedPhase = [0, 0, 0];
  let usedW = 0;
  const usedCircuit = new Map<string, number[]>();
  const out = new Map<string, number>();
  const fits = (s: BaselineSession, deltaA: number): boolean => {
    for (const p of s.sitePhases) if ((usedPhase[p] as number) + deltaA > (budget.phaseA[p] as number)) return false;
    if (usedW + deltaA * s.sitePhases.length * budget.voltageV > budget.powerW) return false;
    for (const n of s.path) {
      const cap = budget.circuitA.get(n);
      const used = usedCircuit.get(n) ?? [0, 0, 0];
      if (cap && s.sitePhases.some((p) => (used[p] as number) + deltaA > (cap[p] as number))) return false;
    }
    return true;
  };
  const add = (s: BaselineSession, deltaA: number): void => {
    for (const p of s.sitePhases) usedPhase[p] = (usedPhase[p] as number) + deltaA;
    usedW += deltaA * s.sitePhases.length * budget.voltageV;
    for (const n of s.path) {
      const used = usedCircuit.get(n) ?? [0, 0, 0];
      for (const p of s.sitePhases) used[p] = (used[p] as number) + deltaA;
      usedCircuit.set(n, used);
    }
    out.set(s.id, (out.get(s.id) ?? 0) + deltaA);
  };
  const ordered = [...sessions].sort((a, b) => a.order - b.order);
  for (const s of ordered) {
    out.set(s.id, 0);
    if (fits(s, s.minA)) add(s, s.minA);
  }
  const running = ordered.filter((s) => (out.get(s.id) ?? 0) > 0);
  for (const s of running) {
    const want = Math.min(s.maxA, s.requiredA) - (out.get(s.id) ?? 0);
    for (let a = Math.floor(want); a >= 1; a--) {
      if (fits(s, a)) {
        add(s, a);
        break;
      }
    }
  }
  for (let grew = true; grew; ) {
    grew = false;
    for (const s of running) {
      if ((out.get(s.id) ?? 0) + 1 > s.maxA || !fits(s, 1)) continue;
      add(s, 1);
      grew = true;
    }
  }
  return out;
}
