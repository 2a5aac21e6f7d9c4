import type { Reason } from '../../model/decision.js';
import { type EvseState, type PhaseValues, sessionKey } from '../../model/site.js';
import { drawnMask, drawnPhases } from './drawn-phases.js';
import { maxReasons } from './reasons.js';
import { type Cand, DEFAULT_RANK, type EvseRequests, NO_R, NO_W, type Round, type SessionMemory } from './types.js';

/** `key === sessionKey(e)`, without building the key (a string per EVSE and round) in the usual case. */
export function isSessionKey(key: string, e: EvseState): boolean {
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

/**
 * One charging session as the allocator works with it: its memory from the last round, the phases
 * it draws on, its caps, its learnt overdraw and its requests.
 */
export function candidateOf(e: EvseState, index: number, req: EvseRequests | undefined, r: Round): Cand {
  const { now, s } = r;
  const prev = r.prev.sessions.get(e.id);
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
          holdUntil: now + s.holdMaxMs,
        }
      : same;
  // Highest measured phase current, from a fresh reading.
  const cr = e.currentsA;
  let measuredA: number | undefined;
  if (cr?.quality === 'good' && !(now - cr.ts > s.freshMs)) {
    const v: PhaseValues = cr.value;
    measuredA = Math.max(v[0], v[1], v[2]);
  }
  // The phases the vehicle draws on are the draw estimate's (`vehiclePhases`, learnt per session from
  // the per-phase readings, believed fewer only once the charger has offered three long enough); the
  // allocator's own count from one fresh reading is gone: it could see a vehicle ramping on one phase
  // as a 1-phase one and reserve one phase for a vehicle about to draw on three.
  const vehiclePhases: 1 | 2 | 3 = e.phases === 1 ? 1 : (e.vehiclePhases ?? 3);
  const canSwitch =
    e.phases === 3 &&
    vehiclePhases === 3 &&
    (s.phaseSwitchable?.has(e.id) === true || s.phaseSwitchable?.has(e.chargerId) === true);
  let phases: 1 | 3 = vehiclePhases === 1 ? 1 : 3;
  if (canSwitch && mem && mem.phases !== vehiclePhases && now - mem.phasesAt < s.phaseSwitchDwellMs)
    phases = mem.phases;
  const own = r.ownLimits.get(e.id);
  let capReasons: readonly Reason[] = maxReasons(e.maxCurrentA);
  let maxA = e.maxCurrentA;
  if (own?.maxCurrentA !== undefined && own.maxCurrentA < maxA) {
    maxA = own.maxCurrentA;
    capReasons = [...own.reasons, ...capReasons];
  }
  const drawn = drawnPhases(phases, vehiclePhases);
  const wPerA = drawn * e.voltageV;
  if (own?.maxImportW !== undefined && own.maxImportW / wPerA < maxA) {
    maxA = Math.max(0, own.maxImportW / wPerA);
    capReasons = [...own.reasons, ...capReasons];
  }
  // Overdraw: what the vehicle draws above the highest set-point that may still apply. Until the
  // vehicle has shown that it follows its set-point, a default overdraw is reserved for it.
  let learntOverdrawA = mem?.overdrawA ?? 0;
  let overdrawKnown = mem?.overdrawKnown ?? false;
  if (s.learnOverdraw && mem && measuredA !== undefined && mem.currentA > 0) {
    const applied = Math.max(mem.currentA, now < mem.holdUntil ? mem.holdA : 0);
    const over = measuredA - applied;
    if (over > 0.3) {
      learntOverdrawA = Math.min(s.maxOverdrawA, Math.max(learntOverdrawA, over));
      overdrawKnown = true;
    } else if (measuredA >= mem.currentA - 0.5 && (e.currentsA?.ts ?? 0) > mem.setAt) overdrawKnown = true;
  }
  const overdrawA = !s.learnOverdraw
    ? 0
    : overdrawKnown
      ? learntOverdrawA
      : Math.max(learntOverdrawA, s.assumedOverdrawA);
  let rank = DEFAULT_RANK;
  if (req) for (let r = 0; r < DEFAULT_RANK; r++) if (req.w[r] !== undefined && rank === DEFAULT_RANK) rank = r;
  const urgency = req?.urgency ?? Number.POSITIVE_INFINITY;
  const requestW = req?.w ?? NO_W;
  const requestReasons = req?.r ?? NO_R;
  const cons = r.pathCons(e.circuitId);
  const mask = drawnMask(e.phaseRotation, drawn);
  const measuredTs = measuredA !== undefined && cr ? cr.ts : 0;
  const pooled = r.pool.get(e.id) as Writable<Cand> | undefined;
  if (pooled === undefined || pooled.stamp === r.stamp) {
    const c: Cand = {
      stamp: r.stamp,
      evse: e,
      id: e.id,
      rotation: e.phaseRotation,
      voltageV: e.voltageV,
      index,
      key,
      mem,
      phases,
      mask,
      wPerA,
      minA: e.minCurrentA,
      maxA,
      capReasons,
      overdrawA,
      learntOverdrawA,
      overdrawKnown,
      rank,
      urgency,
      requestW,
      requestReasons,
      cons,
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
      binding: undefined,
      bindK: undefined,
      bindR: -1,
      start: 0,
      a: 0,
      reasons: capReasons,
      sticky: -1,
      heldA: 0,
      holdNowA: 0,
      pauseReasons: undefined,
      measuredA,
      measuredTs,
    };
    if (pooled === undefined) r.pool.set(e.id, c);
    return c;
  }
  // Last round's record of this EVSE, every field written again: at 1000 EVSEs a new record per session
  // and round (~0.5 KB each) was most of what a young-generation GC found alive in the middle of a round.
  const c = pooled;
  c.stamp = r.stamp;
  c.evse = e;
  c.id = e.id;
  c.rotation = e.phaseRotation;
  c.voltageV = e.voltageV;
  c.index = index;
  c.key = key;
  c.mem = mem;
  c.phases = phases;
  c.mask = mask;
  c.wPerA = wPerA;
  c.minA = e.minCurrentA;
  c.maxA = maxA;
  c.capReasons = capReasons;
  c.overdrawA = overdrawA;
  c.learntOverdrawA = learntOverdrawA;
  c.overdrawKnown = overdrawKnown;
  c.rank = rank;
  c.urgency = urgency;
  c.requestW = requestW;
  c.requestReasons = requestReasons;
  c.cons = cons;
  c.canSwitch = canSwitch;
  c.preferred = vehiclePhases;
  c.admitted = false;
  c.priority = e.priority;
  c.since = e.sessionStart ?? 0;
  c.fresh = 0;
  c.on = 0;
  c.cur = 0;
  c.target = 0;
  c.active = false;
  c.frozen = false;
  c.binding = undefined;
  c.bindK = undefined;
  c.bindR = -1;
  c.start = 0;
  c.a = 0;
  c.reasons = capReasons;
  c.sticky = -1;
  c.heldA = 0;
  c.holdNowA = 0;
  c.pauseReasons = undefined;
  c.measuredA = measuredA;
  c.measuredTs = measuredTs;
  return c;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };
