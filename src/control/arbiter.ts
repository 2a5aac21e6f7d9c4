import type { Decision, Limit, PowerRequest, Reason } from '../model/decision.js';
import { tierRank } from '../model/decision.js';
import type { BoundPolicy } from '../model/policy.js';
import type { PhaseValues, SiteSnapshot } from '../model/site.js';

/** The most restrictive value per scope and quantity, with the limits behind it. */
export interface MergedLimit {
  readonly scope: string;
  readonly maxImportW?: number;
  readonly maxExportW?: number;
  readonly maxCurrentA?: number;
  /** Per-phase cap in site phase order, A. */
  readonly maxPhaseCurrentsA?: PhaseValues;
  /** Binding reason first, then every other limit on the same scope (tier order). */
  readonly reasons: readonly Reason[];
}

export interface Arbitration {
  readonly limits: ReadonlyMap<string, MergedLimit>;
  readonly requests: readonly PowerRequest[];
  /**
   * Every limit as decided, unmerged: the allocator merges per tier so that
   * a limit binds only requests of its own tier and below.
   */
  readonly rawLimits?: readonly Limit[];
  /** Policies that threw: they are skipped for this round and reported, never fatal. */
  readonly errors: ReadonlyArray<{ policy: string; error: string }>;
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/**
 * Merge limits most-restrictive-wins. Because a lower-tier policy can only
 * ever tighten a limit, tiers cannot weaken safety; the tier decides the
 * order in which reasons are shown and requests are served.
 */
export function mergeLimits(limits: readonly Limit[]): Map<string, MergedLimit> {
  const byScope = new Map<string, Limit[]>();
  for (const l of limits) {
    const list = byScope.get(l.scope) ?? [];
    list.push(l);
    byScope.set(l.scope, list);
  }
  const out = new Map<string, MergedLimit>();
  for (const [scope, list] of byScope) {
    let maxImportW: number | undefined;
    let maxExportW: number | undefined;
    let maxCurrentA: number | undefined;
    let phases: [number, number, number] | undefined;
    for (const l of list) {
      maxImportW = minDefined(maxImportW, l.maxImportW);
      maxExportW = minDefined(maxExportW, l.maxExportW);
      maxCurrentA = minDefined(maxCurrentA, l.maxCurrentA);
      if (l.maxPhaseCurrentsA) {
        const p = l.maxPhaseCurrentsA;
        phases = phases
          ? [Math.min(phases[0], p[0]), Math.min(phases[1], p[1]), Math.min(phases[2], p[2])]
          : [p[0], p[1], p[2]];
      }
    }
    const binding = (l: Limit) =>
      (l.maxImportW !== undefined && l.maxImportW === maxImportW) ||
      (l.maxPhaseCurrentsA !== undefined &&
        phases !== undefined &&
        l.maxPhaseCurrentsA.some((v, i) => v === phases[i])) ||
      (l.maxCurrentA !== undefined && l.maxCurrentA === maxCurrentA) ||
      (l.maxExportW !== undefined && l.maxExportW === maxExportW);
    const sorted = [...list].sort((a, b) => {
      const bind = Number(binding(b)) - Number(binding(a));
      return bind !== 0 ? bind : tierRank(a.reason.tier) - tierRank(b.reason.tier);
    });
    out.set(scope, {
      scope,
      ...(maxImportW !== undefined ? { maxImportW } : {}),
      ...(maxExportW !== undefined ? { maxExportW } : {}),
      ...(maxCurrentA !== undefined ? { maxCurrentA } : {}),
      ...(phases !== undefined ? { maxPhaseCurrentsA: phases } : {}),
      reasons: sorted.map((l) => l.reason),
    });
  }
  return out;
}

/** Run every policy on the same snapshot and merge what they decide. */
export function arbitrate(policies: readonly BoundPolicy[], snapshot: SiteSnapshot, now: number): Arbitration {
  const decisions: Decision[] = [];
  const errors: Array<{ policy: string; error: string }> = [];
  for (const p of policies) {
    try {
      decisions.push(p.decide(snapshot, now));
    } catch (err) {
      errors.push({ policy: p.name, error: err instanceof Error ? err.message : String(err) });
    }
  }
  const rawLimits = decisions.flatMap((d) => d.limits);
  const limits = mergeLimits(rawLimits);
  const requests = decisions
    .flatMap((d) => d.requests)
    .sort((a, b) => tierRank(a.reason.tier) - tierRank(b.reason.tier));
  return { limits, requests, rawLimits, errors };
}
