import type { Reason } from '../../model/decision.js';
import { bindingOf, fmtA, reason } from './reasons.js';
import { type Cand, DEFAULT_RANK, EPS, type Round } from './types.js';

/**
 * Step 3: hysteresis: slow up, dead-band; decreases always go through at once. Sets each session's
 * set-point `a` and its reasons; true when a dead-band or an unfollowed decrease leaves work for
 * step 4.
 */
export function smooth(cands: readonly Cand[], r: Round): boolean {
  const { now, s } = r;
  const rampUp = s.rampUpAPerS;
  const deadbandA = s.deadbandA;
  let pending = false;
  const shares = roundedShares(cands);
  for (let i = 0; i < cands.length; i++) {
    const c = cands[i] as Cand;
    const prevA = c.mem?.currentA ?? 0;
    let a = c.admitted ? (shares[i] as number) : 0;
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
    c.heldA = held(c, now, s.holdToleranceA);
    c.holdNowA = Math.max(c.heldA, a < prevA ? prevA : 0);
    if (sticky >= 0 || c.holdNowA > 0) pending = true;
  }
  return pending;
}

/** What a decrease not yet followed still draws, A (0 once the vehicle is seen following it). */
function held(c: Cand, now: number, holdTol: number): number {
  const m = c.mem;
  if (!m || m.holdA <= 0 || now >= m.holdUntil) return 0;
  if (c.measuredA !== undefined && c.measuredTs > m.setAt && c.measuredA <= m.currentA + holdTol + c.overdrawA)
    return 0;
  return m.holdA;
}

/**
 * Each admitted session's share on the 0.1 A grid of set-points. Rounding every share down left up to
 * 0.1 A per session unused (2 A on a site of 20, a few % of a tight limit); the remainders are carried
 * on to the next session of the same group instead (same circuit path, phases and voltage, so every
 * constraint of the group sees the same total as before rounding, never more).
 */
function roundedShares(cands: readonly Cand[]): number[] {
  const out: number[] = new Array(cands.length).fill(0);
  const groups = new Map<readonly unknown[], Map<number, Map<number, { sum: number; given: number }>>>();
  for (let i = 0; i < cands.length; i++) {
    const c = cands[i] as Cand;
    if (!c.admitted) continue;
    let byMask = groups.get(c.cons);
    if (!byMask) {
      byMask = new Map();
      groups.set(c.cons, byMask);
    }
    // The shape: the site phases (as bits) and W per A, as numbers (a key string per session and round
    // was a thousand strings a round at 1000 EVSEs).
    const bits = (c.mask[0] ? 4 : 0) | (c.mask[1] ? 2 : 0) | (c.mask[2] ? 1 : 0);
    let byW = byMask.get(bits);
    if (!byW) {
      byW = new Map();
      byMask.set(bits, byW);
    }
    let g = byW.get(c.wPerA);
    if (!g) {
      g = { sum: 0, given: 0 };
      byW.set(c.wPerA, g);
    }
    g.sum += c.cur;
    const d = Math.min(Math.floor(g.sum * 10 + EPS) - g.given, Math.floor(c.maxA * 10 + EPS));
    const own = Math.floor(c.cur * 10 + EPS);
    const deci = Math.max(own, d);
    g.given += deci;
    out[i] = deci / 10;
  }
  return out;
}
