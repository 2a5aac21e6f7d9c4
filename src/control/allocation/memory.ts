import type { Reason, Setpoint } from '../../model/decision.js';
import { type Cand, EPS, type Round, type SessionMemory } from './types.js';

/**
 * The last step: each session's set-point, and its memory for the next round (min-on and min-off
 * times, phase switches, learnt overdraw, decreases not yet followed).
 */
export function remember(
  cands: readonly Cand[],
  r: Round,
  mems: Map<string, SessionMemory>,
  setpoints: Setpoint[],
): void {
  const { now, s } = r;
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
    // A pause caused only by start-up pessimism (a transient limit) does not arm it either.
    const offSince =
      a === 0 && prev ? (prevA === 0 ? prev.offSince : c.reasons.some(isTransient) ? undefined : now) : undefined;
    const phasesAt = prev && prev.phases === phases ? prev.phasesAt : now;
    const holdUntil = decrease ? now + s.holdMaxMs : (prev?.holdUntil ?? 0);
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
            holdA,
            holdUntil,
          },
    );
    setpoints[c.index] = {
      evseId: c.id,
      currentA: a,
      // What the vehicle draws at it: a 2-phase vehicle offered three draws on two.
      powerW: a * c.wPerA,
      phases,
      reasons: c.reasons,
    };
  }
}

function isTransient(r: Reason): boolean {
  return r.transient === true;
}
