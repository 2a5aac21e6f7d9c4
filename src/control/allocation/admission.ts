import { drawnMask, drawnPhases } from './drawn-phases.js';
import { coef, overrun } from './constraints.js';
import { fmtA, minReasons, pausedBy, reason } from './reasons.js';
import { BY_REQUEST, type Cand, type Constraint, DEFAULT_RANK, type Round } from './types.js';

const THREE_THEN_ONE: readonly (1 | 3)[] = [3, 1];
const ONE_THEN_THREE: readonly (1 | 3)[] = [1, 3];
const THREE: readonly (1 | 3)[] = [3];
const ONE: readonly (1 | 3)[] = [1];

/**
 * Step 1: minimums, most important first (`byAdmission`); whoever does not fit is paused. A session
 * with a request reserves what it asked for; a session that can switch phases tries the other
 * phase count before it is paused.
 */
export function admit(cands: readonly Cand[], r: Round): void {
  const { now, s } = r;
  for (const c of cands) {
    const m = c.mem;
    const isOn = m !== undefined && m.currentA > 0;
    c.fresh = isOn && m.onSince !== undefined && now - m.onSince < s.minOnMs ? 1 : 0;
    c.on = isOn ? 1 : 0;
  }
  const ordered = [...cands].sort(byAdmission);
  for (const c of ordered) {
    if (c.maxA < c.minA) {
      c.pauseReasons = [
        ...c.capReasons,
        reason('allocator', `limit ${fmtA(c.maxA)} below minimum ${fmtA(c.minA)}: paused`),
      ];
      continue;
    }
    if (c.mem && c.mem.currentA === 0 && c.mem.offSince !== undefined && now - c.mem.offSince < s.minOffMs) {
      c.pauseReasons = [
        reason(
          'allocator',
          `paused ${Math.round((now - c.mem.offSince) / 1000)} s ago; minimum off time ${s.minOffMs / 1000} s`,
        ),
      ];
      continue;
    }
    const options = c.canSwitch ? (c.phases === 3 ? THREE_THEN_ONE : ONE_THEN_THREE) : c.phases === 3 ? THREE : ONE;
    let failed: Constraint | undefined;
    for (const ph of options) {
      if (
        c.canSwitch &&
        ph !== c.phases &&
        c.mem &&
        now - c.mem.phasesAt < s.phaseSwitchDwellMs &&
        c.mem.phases === c.phases
      )
        continue;
      const drawn = drawnPhases(ph, c.preferred);
      const mask = drawnMask(c.rotation, drawn);
      const wPerA = drawn * c.voltageV;
      // A session with a request (a deadline) reserves what it asked for, least laxity first:
      // with more sessions than minimums fit, the urgent ones must not all sit at their minimum.
      const reqW = c.rank < DEFAULT_RANK ? c.requestW[c.rank] : undefined;
      const wantA = reqW !== undefined ? Math.max(c.minA, Math.min(c.maxA, reqW / wPerA)) : c.minA;
      let grant = wantA;
      let bad = overrun(c.cons, c.rank, grant + c.overdrawA, mask, wPerA);
      if (bad && wantA > c.minA) {
        grant = c.minA;
        bad = overrun(c.cons, c.rank, grant + c.overdrawA, mask, wPerA);
      }
      if (bad) {
        failed ??= bad;
        continue;
      }
      const need = grant + c.overdrawA;
      if (ph !== c.phases) {
        const own = r.ownLimits.get(c.id);
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
      // Built only if water-filling does not move the session on (`bindingOf`).
      if (grant > c.minA && rr) c.bindR = BY_REQUEST;
      else
        c.binding =
          bad === undefined && grant < wantA && failed
            ? [...failed.reasons, reason('allocator', `minimum ${fmtA(c.minA)}`)]
            : minReasons(c.minA);
      break;
    }
    if (!c.admitted) c.pauseReasons = pausedBy(failed, c.minA);
  }
}

/** Admission order: priority, a session switched on recently, tier, urgency, on at all, arrival, id. */
function byAdmission(a: Cand, b: Cand): number {
  return (
    b.priority - a.priority ||
    b.fresh - a.fresh ||
    a.rank - b.rank ||
    (a.urgency < b.urgency ? -1 : a.urgency > b.urgency ? 1 : 0) ||
    b.on - a.on ||
    (a.since < b.since ? -1 : a.since > b.since ? 1 : 0) ||
    (a.evse.id < b.evse.id ? -1 : a.evse.id > b.evse.id ? 1 : 0)
  );
}
