import type { Reason } from '../../model/decision.js';
import { BY_REQUEST, type Cand, type Constraint, DEFAULT_RANK } from './types.js';

// Reasons are built once and shared where possible: a round runs many times a second and a short
// budget pauses hundreds of sessions for the same reason.

export const reason = (policy: string, text: string): Reason => ({ policy, tier: 'safety', text });

const MAX_REASONS = new Map<number, readonly Reason[]>();
const MIN_REASONS = new Map<number, readonly Reason[]>();
/** `charger maximum <n> A`, built once per value. */
export function maxReasons(a: number): readonly Reason[] {
  let r = MAX_REASONS.get(a);
  if (!r) {
    r = [reason('device', `charger maximum ${a} A`)];
    MAX_REASONS.set(a, r);
  }
  return r;
}
/** `minimum <n> A`, built once per value. */
export function minReasons(a: number): readonly Reason[] {
  let r = MIN_REASONS.get(a);
  if (!r) {
    r = [reason('allocator', `minimum ${fmtA(a)}`)];
    MIN_REASONS.set(a, r);
  }
  return r;
}

export function fmtA(a: number): string {
  return `${Math.round(a * 10) / 10} A`;
}

/**
 * Why a session whose minimum does not fit is paused. Sessions paused by the same constraint at the
 * same minimum share one list (hundreds of them when a budget is short).
 */
export function pausedBy(k: Constraint | undefined, minA: number): readonly Reason[] {
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

/** The reasons of an admitted session's current, built once for its set-point. */
export function bindingOf(c: Cand): readonly Reason[] {
  if (c.bindR === BY_REQUEST) return [c.requestReasons[c.rank] as Reason, ...c.capReasons];
  if (c.bindR < 0) return c.binding ?? c.capReasons;
  if (c.bindR === DEFAULT_RANK) {
    // Without a request, the sessions a constraint binds share one list per cap (hundreds of them).
    const k = c.bindK;
    if (!k) return c.capReasons;
    k.bound ??= new Map();
    let r = k.bound.get(c.capReasons);
    if (!r) {
      r = [...k.reasons, ...c.capReasons];
      k.bound.set(c.capReasons, r);
    }
    return r;
  }
  const own = [c.requestReasons[c.bindR] as Reason, ...c.capReasons];
  return c.bindK ? [...c.bindK.reasons, ...own] : own;
}
