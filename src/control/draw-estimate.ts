import type { Setpoint } from '../model/decision.js';
import { reading } from '../model/reading.js';
import { type EvseState, SESSION_STATUSES, type SiteSnapshot } from '../model/site.js';

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

interface Track {
  readonly session: string;
  /** Set-point in force before the last change, and the last one, A; phases the vehicle uses. */
  prevA: number;
  setA: number;
  phases: number;
  changedAt: number;
  /** Learnt: how long the vehicle takes to follow a change, ms; how far it draws above its set-point, A. */
  delayMs: number;
  offsetA: number;
  learntDelay: boolean;
}

export interface DrawEstimatorOptions {
  /** A reading older than this is not trusted, ms. */
  readonly freshMs: number;
  /** Assumed response delay of a vehicle not yet seen following, ms (slow vehicles take up to 11 s). */
  readonly assumedDelayMs?: number;
}

const FOLLOWED_TOLERANCE_A = 1;

export class DrawEstimator {
  private readonly tracks = new Map<string, Track>();
  private last: readonly DrawEstimate[] = [];

  constructor(private readonly o: DrawEstimatorOptions) {}

  /** The estimates of the last `apply` (API, reasons). */
  estimates(): readonly DrawEstimate[] {
    return this.last;
  }

  /** The snapshot with each session's `powerW` replaced by its estimate where the reading cannot be trusted. */
  apply(snapshot: SiteSnapshot, now: number): SiteSnapshot {
    const out: DrawEstimate[] = [];
    let changed = false;
    const evses = snapshot.evses.map((e) => {
      const est = this.estimate(e, now);
      if (!est) return e;
      out.push(est);
      if (est.source === 'measured') return e;
      changed = true;
      return { ...e, powerW: reading(est.w, now, 'estimate') };
    });
    this.last = out;
    return changed ? { ...snapshot, evses } : snapshot;
  }

  /** The set-points just dispatched: the new targets the vehicles will follow. */
  record(setpoints: readonly Setpoint[], snapshot: SiteSnapshot, now: number): void {
    const byId = new Map(snapshot.evses.map((e) => [e.id, e] as const));
    for (const sp of setpoints) {
      const e = byId.get(sp.evseId);
      if (!e || !SESSION_STATUSES.has(e.status)) {
        this.tracks.delete(sp.evseId);
        continue;
      }
      const key = `${e.sessionId ?? ''}@${e.sessionStart ?? ''}`;
      let t = this.tracks.get(e.id);
      if (!t || t.session !== key) {
        // Before the first set-point the vehicle takes what the charger offers: its maximum.
        t = {
          session: key,
          prevA: e.maxCurrentA,
          setA: e.maxCurrentA,
          phases: sp.phases,
          changedAt: now,
          delayMs: this.o.assumedDelayMs ?? 11_000,
          offsetA: 0,
          learntDelay: false,
        };
        this.tracks.set(e.id, t);
      }
      if (Math.abs(sp.currentA - t.setA) > 1e-6) {
        t.prevA = this.inForce(t, now);
        t.setA = sp.currentA;
        t.changedAt = now;
      }
      t.phases = sp.phases;
    }
  }

  private inForce(t: Track, now: number): number {
    return now - t.changedAt < t.delayMs ? t.prevA : t.setA;
  }

  private estimate(e: EvseState, now: number): DrawEstimate | undefined {
    if (!SESSION_STATUSES.has(e.status)) return undefined;
    const t = this.tracks.get(e.id);
    const r = e.powerW;
    const fresh = r !== undefined && r.quality === 'good' && r.source !== 'estimate' && now - r.ts <= this.o.freshMs;
    if (t && fresh) this.learn(t, e, r.value, r.ts);
    const wPerA = (t?.phases ?? e.vehiclePhases ?? e.phases) * e.voltageV;
    // A fresh reading taken after the vehicle could have followed the last change is the truth.
    if (fresh && (!t || r.ts >= t.changedAt + Math.min(t.delayMs, this.o.freshMs))) {
      return { evseId: e.id, w: r.value, uncertaintyW: 0, source: 'measured' };
    }
    if (!t) return undefined;
    const followed = now - t.changedAt >= t.delayMs;
    const a = Math.min(e.maxCurrentA, (followed ? t.setA : t.prevA) + (t.setA > 0 ? t.offsetA : 0));
    const spread = followed ? Math.abs(t.offsetA) : Math.abs(t.prevA - t.setA);
    return {
      evseId: e.id,
      w: Math.max(0, a) * wPerA,
      uncertaintyW: Math.max(spread, 0.5) * wPerA,
      source: 'estimated',
    };
  }

  /** From a reading: the vehicle's response delay (first reading on the new set-point) and offset. */
  private learn(t: Track, e: EvseState, w: number, ts: number): void {
    const wPerA = t.phases * e.voltageV;
    if (!(wPerA > 0) || ts < t.changedAt) return;
    const a = w / wPerA;
    if (Math.abs(a - t.setA - t.offsetA) <= FOLLOWED_TOLERANCE_A) {
      const seen = ts - t.changedAt;
      // The reading bounds the delay from above; the smallest bound seen is the best one.
      if (Math.abs(t.prevA - t.setA) > FOLLOWED_TOLERANCE_A && seen < t.delayMs) {
        t.delayMs = t.learntDelay ? Math.min(t.delayMs, seen) : seen;
        t.learntDelay = true;
      }
      if (t.setA > 0 && ts - t.changedAt >= t.delayMs) t.offsetA = 0.8 * t.offsetA + 0.2 * (a - t.setA);
    }
  }
}
