import type { Setpoint } from '../model/decision.js';
import { reading } from '../model/reading.js';
import { type EvseState, SESSION_STATUSES, type SiteSnapshot } from '../model/site.js';
import { isSessionKey, sessionKey } from './allocation/candidates.js';

/**
 * What each charging session draws now, for the site balance, when its
 * charger has not reported it since the last set-point change (factory
 * default meter values come every 60 s, un-phased). Without this, the draw
 * of a charger that has not confirmed it was counted as building load, the
 * budget shrank by it and the headroom was never filled.
 *
 * The estimate is the set-point the vehicle follows, taken from the dispatched
 * set-points: the old one until the vehicle's learnt response delay has
 * passed, the new one after, plus its learnt offset (a vehicle drawing above
 * its set-point); its uncertainty is the old–new difference while the change
 * may still be on its way, else the spread of the offset. A fresh reading
 * taken after the vehicle could have followed is used as it is.
 */
export interface DrawEstimate {
  readonly evseId: string;
  readonly w: number;
  readonly uncertaintyW: number;
  readonly source: 'measured' | 'estimated';
}

interface Range {
  readonly lowW: number;
  readonly highW: number;
  readonly measured: boolean;
}

interface Change {
  readonly a: number;
  readonly at: number;
  /** Before the first set-point: the charger offers `a` (its maximum), the vehicle draws anything up to it. */
  readonly upTo?: true;
}

interface Track {
  readonly session: string;
  /** Set-points of the last `maxDelayMs` and the one before them, oldest first: any may be in force. */
  history: Change[];
  phases: number;
  /** Learnt: how long the vehicle takes to follow a change, ms; how far it draws above its set-point, A. */
  delayMs: number;
  offsetA: number;
  learntDelay: boolean;
  /** A reading this long after the last change showed the vehicle on its new set-point, ms. */
  confirmedAfterMs: number | undefined;
}

export interface DrawEstimatorOptions {
  /** A reading older than this is not trusted, ms. */
  readonly freshMs: number;
  /** Longest response delay of a vehicle, and the one assumed until it is seen following, ms (default 11 s). */
  readonly maxDelayMs?: number;
}

const FOLLOWED_TOLERANCE_A = 1;
/** A charger reading and a meter reading this close together show the same moment, ms. */
const SAME_SAMPLE_MS = 1000;

/** What a vehicle on set-point `a` draws, W (not a closure: one per session per round cost a third of the round). */
function drawW(a: number, e: EvseState, t: Track): number {
  return Math.max(0, Math.min(e.maxCurrentA, a > 0 ? a + t.offsetA : 0)) * (t.phases * e.voltageV);
}

export class DrawEstimator {
  private readonly tracks = new Map<string, Track>();
  private last: readonly DrawEstimate[] = [];

  private readonly maxDelayMs: number;

  constructor(private readonly o: DrawEstimatorOptions) {
    this.maxDelayMs = o.maxDelayMs ?? 11_000;
  }

  /** The estimates of the last `apply` (API, reasons). */
  estimates(): readonly DrawEstimate[] {
    return this.last;
  }

  /**
   * The snapshot with each session's `powerW` replaced by its estimate where the reading cannot be
   * trusted. A vehicle that may or may not have followed its last change yet draws somewhere between
   * its old and new set-point; it is taken at the LOWEST of them, so the building load (meter − known
   * loads) is the highest the meter allows: a meter rise while an increase is on its way may be a
   * building step, and handing it to the vehicles could plan the site over its limit (the allocator
   * keeps the highest, an unfollowed decrease's old set-point, reserved). Once the vehicle has
   * confirmed its change, or its response delay has passed, it is taken at its set-point, so freed
   * headroom is filled. Physical bound: the building cannot feed in more than on-site PV produces, so
   * the estimated draws never exceed what the meter shows (grid − battery + PV − measured draws).
   * No memory of earlier rounds: a steady meter with steady vehicles gives the same estimate every
   * round (a remembered building load fed the estimate back into the set-points).
   */
  apply(snapshot: SiteSnapshot, now: number): SiteSnapshot {
    const gridTs = snapshot.grid.powerW?.ts ?? Number.NEGATIVE_INFINITY;
    const ranges: Array<{ e: EvseState; r: Range } | undefined> = snapshot.evses.map((e) => {
      const r = this.range(e, now, gridTs);
      return r ? { e, r } : undefined;
    });
    let measuredW = 0;
    let estimatedW = 0;
    for (const x of ranges) {
      if (!x) continue;
      if (x.r.measured) measuredW += x.r.lowW;
      else estimatedW += x.r.lowW;
    }
    const grid = snapshot.grid.powerW;
    let scale = 1;
    if (grid && estimatedW > 0) {
      const battery = snapshot.battery.powerW?.value ?? 0;
      const pv = Math.max(0, snapshot.pv.powerW?.value ?? 0);
      const roomW = Math.max(0, grid.value - battery + pv - measuredW);
      if (estimatedW > roomW) scale = roomW / estimatedW;
    }
    const out: DrawEstimate[] = [];
    let changed = false;
    const evses = snapshot.evses.map((e, i) => {
      const x = ranges[i];
      if (!x) return e;
      const source = x.r.measured ? 'measured' : 'estimated';
      const w = x.r.measured ? x.r.lowW : x.r.lowW * scale;
      out.push({ evseId: e.id, w, uncertaintyW: x.r.highW - w, source });
      if (x.r.measured) return e;
      changed = true;
      return { ...e, powerW: reading(w, now, 'estimate') };
    });
    this.last = out;
    return changed ? { ...snapshot, evses } : snapshot;
  }

  /** The set-points just dispatched: the new targets the vehicles will follow. */
  record(setpoints: readonly Setpoint[], snapshot: SiteSnapshot, now: number): void {
    const { evses } = snapshot;
    let byId: Map<string, EvseState> | undefined;
    for (let i = 0; i < setpoints.length; i++) {
      const sp = setpoints[i] as Setpoint;
      // The allocator returns the EVSEs' set-points in snapshot order: the map only for the others.
      let e = evses[i];
      if (e?.id !== sp.evseId) {
        byId ??= new Map(evses.map((x) => [x.id, x] as const));
        e = byId.get(sp.evseId);
      }
      // Feed-in (V2G) is left to its measurement: the estimate models vehicles drawing, not feeding.
      if (!e || !SESSION_STATUSES.has(e.status) || sp.currentA < 0 || sp.powerW < 0) {
        this.tracks.delete(sp.evseId);
        continue;
      }
      let t = this.tracks.get(e.id);
      // The session key is built only for a new session (a string per session and round otherwise).
      if (!t || !isSessionKey(t.session, e)) {
        // Before the first set-point the vehicle may take what the charger offers, its maximum, or nothing.
        t = {
          session: sessionKey(e),
          history: [{ a: e.maxCurrentA, at: Number.NEGATIVE_INFINITY, upTo: true }],
          phases: sp.phases,
          delayMs: this.maxDelayMs,
          offsetA: 0,
          learntDelay: false,
          confirmedAfterMs: undefined,
        };
        this.tracks.set(e.id, t);
      }
      const last = t.history[t.history.length - 1] as Change;
      if (Math.abs(sp.currentA - last.a) > 1e-6) {
        t.history.push({ a: sp.currentA, at: now });
        t.confirmedAfterMs = undefined;
      }
      // Keep the changes that may still be on their way and the last one surely followed.
      while (t.history.length > 1 && (t.history[1] as Change).at <= now - this.maxDelayMs) t.history.shift();
      t.phases = sp.phases;
    }
  }

  /** What a session may draw now: one value when known, else the range its recent set-points span. */
  private range(e: EvseState, now: number, gridTs: number): Range | undefined {
    if (!SESSION_STATUSES.has(e.status)) return undefined;
    const t = this.tracks.get(e.id);
    if (!t && e.bidirectional) return undefined;
    const r = e.powerW;
    const fresh = r !== undefined && r.quality === 'good' && r.source !== 'estimate' && now - r.ts <= this.o.freshMs;
    if (t && fresh) this.learn(t, e, r.value, r.ts);
    const last = t?.history[t.history.length - 1];
    if (!t || !last) return fresh ? { lowW: r.value, highW: r.value, measured: true } : undefined;
    // Building load is the meter minus the vehicles' draw *when the meter sampled*: a reading of the
    // vehicle taken together with the meter's is that draw, whatever set-point is on its way (a change
    // still pending is the allocator's increase hold to reserve, not a reason to doubt the reading).
    if (fresh && Math.abs(r.ts - gridTs) <= SAME_SAMPLE_MS) return { lowW: r.value, highW: r.value, measured: true };
    // The grid reading must be as new as the vehicle's move: a meter read before it still holds the old draw.
    const followedBy = last.at + (t.confirmedAfterMs ?? t.delayMs);
    const meterCaughtUp = gridTs >= followedBy;
    // A fresh reading is the truth when it shows the last change followed, or none was pending when taken.
    if (fresh && meterCaughtUp && (t.confirmedAfterMs !== undefined || r.ts >= last.at + this.maxDelayMs)) {
      return { lowW: r.value, highW: r.value, measured: true };
    }
    // A fresh reading taken after the last change is where the vehicle was since: it may not have
    // moved from there yet (slower than learnt, or drawing less than its set-point), so it bounds the
    // lowest draw too. One taken before the change only shows the old set-point, already in the range.
    const since = fresh && r.ts >= last.at;
    if (meterCaughtUp && (t.confirmedAfterMs !== undefined || now - last.at >= t.delayMs)) {
      const w = drawW(last.a, e, t);
      return since
        ? { lowW: Math.min(w, r.value), highW: Math.max(w, r.value), measured: false }
        : { lowW: w, highW: w, measured: false };
    }
    // Any set-point from the last one surely followed (older than the delay) on may be in force.
    let lowW = Number.POSITIVE_INFINITY;
    let highW = 0;
    for (let i = t.history.length - 1; i >= 0; i--) {
      const c = t.history[i] as Change;
      const w = drawW(c.a, e, t);
      lowW = Math.min(lowW, c.upTo ? 0 : w);
      highW = Math.max(highW, w);
      if (now - c.at >= t.delayMs) break;
    }
    if (!since) return { lowW, highW, measured: false };
    return { lowW: Math.min(lowW, r.value), highW: Math.max(highW, r.value), measured: false };
  }

  /**
   * From a reading: the vehicle's response delay and offset. The vehicle is on one of the recent
   * set-points the reading matches; whichever, it followed it within the time since the EARLIEST of
   * them was sent (an upper bound on its delay, also when it was cut again before its reading came:
   * else an unlearnt vehicle is shed pessimistically forever, and a ramp of close steps taught nothing).
   * It confirms the last set-point when it matches that one.
   */
  private learn(t: Track, e: EvseState, w: number, ts: number): void {
    const wPerA = t.phases * e.voltageV;
    if (!(wPerA > 0)) return;
    const a = w / wPerA - t.offsetA;
    const match = t.history.findIndex((c) => Math.abs(a - c.a) <= FOLLOWED_TOLERANCE_A);
    if (match < 0) return;
    const c = t.history[match] as Change;
    // Still on what the charger offered before the first set-point, or read before the change: no news.
    if (c.upTo || ts < c.at) return;
    const seen = Math.max(0, ts - c.at);
    t.delayMs = t.learntDelay ? Math.min(t.delayMs, seen) : seen;
    t.learntDelay = true;
    const last = t.history[t.history.length - 1] as Change;
    if (t.confirmedAfterMs !== undefined || ts < last.at || Math.abs(a - last.a) > FOLLOWED_TOLERANCE_A) return;
    t.confirmedAfterMs = Math.min(Math.max(0, ts - last.at), t.delayMs);
    if (last.a > 0) t.offsetA = 0.8 * t.offsetA + 0.2 * (w / wPerA - last.a);
  }
}
