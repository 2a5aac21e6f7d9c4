import type { PowerRequest, Reason, Setpoint } from '../../model/decision.js';
import type { EvseState } from '../../model/site.js';
import { siteMask } from '../circuit-tree.js';
import { sessionKey } from '../../model/site.js';
import { binds } from './constraints.js';
import { maxReasons, reason } from './reasons.js';
import { EPS, type Round, type SessionMemory } from './types.js';

/** An EVSE whose most important request is feed-in (a negative power). */
export interface Feeding {
  readonly e: EvseState;
  readonly index: number;
  readonly q: PowerRequest;
  readonly rank: number;
  readonly i: number;
}

export interface FeedIn {
  /** What the feed-in currents use of each constraint (`Constraint.id`), A or W. */
  readonly dischargeUse: Float64Array;
  readonly mems: Map<string, SessionMemory>;
}

/**
 * Step 0: V2G feed-in first, most important request first: within the EVSE's maxima, the feed-in caps
 * on `site` and `evses`, and every phase limit on its path (feed-in current loads the cables too).
 * Import caps are not used up by feed-in, nor credited with it. Writes the set-points of `feeding`.
 */
export function feedIn(feeding: Feeding[], r: Round, setpoints: Setpoint[]): FeedIn {
  const dischargeUse = new Float64Array(r.all.length);
  const feedMems = new Map<string, SessionMemory>();
  const { now } = r;
  feeding.sort((a, b) => a.rank - b.rank || a.i - b.i);
  for (const f of feeding) {
    const e = f.e;
    // Feeding in, a 2-phase vehicle is still taken on all three phases (feed-in is not allocated per drawn phase).
    const phases: 1 | 3 = e.phases === 1 || e.vehiclePhases === 1 ? 1 : 3;
    const wPerA = phases * e.voltageV;
    const mask = siteMask(e.phaseRotation, phases);
    const cons = r.pathCons(e.circuitId);
    let w = -f.q.powerW;
    let binding: readonly Reason[] | undefined;
    const cap = (limitW: number, why: readonly Reason[]) => {
      if (limitW < w) {
        w = Math.max(0, limitW);
        binding = why;
      }
    };
    cap(e.maxCurrentA * wPerA, maxReasons(e.maxCurrentA));
    const own = r.ownLimits.get(e.id);
    if (own?.maxCurrentA !== undefined) cap(own.maxCurrentA * wPerA, own.reasons);
    if (own?.maxExportW !== undefined) cap(own.maxExportW, own.reasons);
    for (const k of r.exports) if (binds(k, f.rank)) cap(k.head, k.reasons);
    for (const k of cons) {
      if (k.importOnly || !binds(k, f.rank)) continue;
      const cf = k.phase < 0 ? wPerA : mask[k.phase] ? 1 : 0;
      if (cf > 0) cap((k.head / cf) * wPerA, k.reasons);
    }
    const a = Math.floor((w / wPerA) * 10 + EPS) / 10;
    const feedW = a > 0 ? Math.floor(w) : 0;
    const key = sessionKey(e);
    const prevMem = r.prev.sessions.get(e.id);
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
    for (const k of r.exports) k.head -= feedW;
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
      holdA,
      holdUntil: wasCharging ? now + r.s.holdMaxMs : (prev?.holdUntil ?? 0),
    });
  }
  return { dischargeUse, mems: feedMems };
}
