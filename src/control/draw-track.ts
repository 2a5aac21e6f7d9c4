import type { EvseState, OfferedSetpoint } from '../model/site.js';

/**
 * One charging session as the draw estimator follows it: the set-points it was
 * sent lately, and what its readings taught about its vehicle — how long it
 * takes to follow a change (a lower and an upper bound, both from readings)
 * and how far it draws above its set-point. From these, what the vehicle may
 * draw at any moment: one value when the readings and the bounds pin it down,
 * else the range of the set-points that may be in force.
 */

interface Change {
  readonly a: number;
  readonly at: number;
  /** Before the first set-point: the charger offers `a` (its maximum), the vehicle draws anything up to it. */
  readonly upTo?: true;
}

/** What a session may draw at one moment, W. */
export interface Range {
  readonly lowW: number;
  readonly highW: number;
  /**
   * The draw if the vehicle has not followed what it may not have followed yet (its oldest possible
   * set-point): a pending increase not yet drawn, a pending decrease still drawn (the allocator holds
   * that one's old current reserved until it is confirmed, so the two together are safe either way).
   */
  readonly stayW: number;
  /** A reading of the charger is the draw at that moment. */
  readonly measured: boolean;
  /** The vehicle's delay bounds come from its readings (it has been seen following): the range is evidence-bounded. */
  readonly learnt: boolean;
}

const FOLLOWED_TOLERANCE_A = 1;
/**
 * Slack on each side of the learnt delay window, ms: the profile's way to the charger and the
 * meter's poll make one change's follow time jitter by a few hundred ms.
 */
const JITTER_MS = 300;

export class DrawTrack {
  /** Set-points that may still be on their way and the last one surely followed, oldest first. */
  private history: Change[];
  /** Phases the last set-point offered. */
  private offered: number;
  /** Phases the vehicle was seen drawing on (its charger's per-phase readings), when seen. */
  vehiclePhases: number | undefined;
  /** The set-point in force (snapshot's `offered`): the same object until the current or phases change. */
  offer: OfferedSetpoint | undefined;
  /** Since when the set-points have offered all three phases (+∞ while switched to fewer), ms. */
  offered3Since: number;
  /** Learnt from readings: the vehicle had not followed a change this long after it, ms. */
  delayLoMs = 0;
  /** Learnt from readings: the vehicle followed a change within this long, ms (`maxDelayMs` until seen). */
  delayHiMs: number;
  /** The vehicle has been seen following a set-point: `delayHiMs` is evidence, not the assumption. */
  learnt = false;
  offsetA = 0;
  private offsetSeen = false;
  /** The vehicle was seen on this change (or a later one), by its `at`. */
  private onAt = Number.NEGATIVE_INFINITY;
  private learntFrom = Number.NEGATIVE_INFINITY;

  constructor(
    readonly session: string,
    maxA: number,
    phases: number,
    private readonly maxDelayMs: number,
  ) {
    this.history = [{ a: maxA, at: Number.NEGATIVE_INFINITY, upTo: true }];
    this.offered = phases;
    this.offered3Since = phases === 3 ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    this.delayHiMs = maxDelayMs;
  }

  /**
   * A set-point dispatched at `now`, offered on `phases`; `vehiclePhases`: those the vehicle was
   * seen drawing on (it draws on no more than both).
   */
  set(a: number, phases: number, now: number, vehiclePhases?: number): void {
    const last = this.history[this.history.length - 1] as Change;
    if (Math.abs(a - last.a) > 1e-6 || last.upTo) this.history.push({ a, at: now });
    const o = this.offer;
    if (!o || Math.abs(a - o.currentA) > 1e-6 || o.phases !== phases)
      this.offer = { currentA: a, phases: phases === 1 ? 1 : 3, since: now };
    if (phases !== 3) this.offered3Since = Number.POSITIVE_INFINITY;
    else if (this.offered3Since === Number.POSITIVE_INFINITY) this.offered3Since = now;
    this.offered = phases;
    if (vehiclePhases !== undefined) this.vehiclePhases = vehiclePhases;
    // Keep the changes that may still be on their way (meter samples up to a few seconds old included).
    const surely = now - this.hiMs() - 3000;
    while (this.history.length > 1 && (this.history[1] as Change).at <= surely) this.history.shift();
  }

  /** Phases the vehicle draws on: those offered, fewer when its readings show it draws on fewer. */
  get phases(): number {
    return Math.min(this.offered, this.vehiclePhases ?? this.offered);
  }

  /** The learnt delay (API): the upper bound, the one the estimate relies on. */
  delayMs(): number {
    return this.delayHiMs;
  }

  private loMs(): number {
    return Math.max(0, Math.min(this.delayLoMs, this.delayHiMs) - JITTER_MS);
  }

  private hiMs(): number {
    return this.learnt ? this.delayHiMs + JITTER_MS : this.maxDelayMs;
  }

  /**
   * What the vehicle draws at `at` (the grid meter's sample time), given its charger's last reading
   * `r` (fresh or undefined).
   */
  range(e: EvseState, at: number, r: { value: number; ts: number } | undefined): Range {
    if (r) this.learn(e, r.value, r.ts);
    const lo = this.loMs();
    const hi = this.hiMs();
    const h = this.history;
    // A reading is the draw at `at` when no change can have taken effect between the two moments.
    if (r) {
      const from = Math.min(r.ts, at);
      const to = Math.max(r.ts, at);
      let moved = false;
      // From the oldest change kept (the last one surely followed): a reading up to `freshMs` old may
      // predate even that one, and was taken as the draw now although the vehicle has followed since.
      for (let i = 0; i < h.length && !moved; i++) {
        const c = h[i] as Change;
        // One the reading already shows the vehicle on (or past) cannot move it any more.
        if (c.at > this.onAt && c.at + lo <= to && c.at + hi > from) moved = true;
      }
      if (!moved) return { lowW: r.value, highW: r.value, stayW: r.value, measured: true, learnt: true };
    }
    // The vehicle is on one of the changes from the last one surely followed (or seen) to the last one
    // it may have followed.
    let first = 0;
    let lastIdx = 0;
    for (let i = 0; i < h.length; i++) {
      const c = h[i] as Change;
      if (c.at + hi <= at || c.at <= this.onAt) first = i;
      if (c.at + lo <= at) lastIdx = i;
    }
    if (lastIdx < first) lastIdx = first;
    const wPerA = this.phases * e.voltageV;
    let lowW = Number.POSITIVE_INFINITY;
    let highW = 0;
    const f = h[first] as Change;
    // Not yet on its first set-point: it draws what its charger read before that set-point went out
    // (at start-up the vehicles already charge). Taken at 0, its draw was counted as building load
    // and the sessions were paused by the gateway's own start (then kept off for the minimum off time).
    const before = h[1];
    let stayW = f.upTo
      ? r && before && r.ts < before.at
        ? Math.min(r.value, this.drawA(e, f.a) * wPerA)
        : 0
      : this.drawA(e, f.a) * wPerA;
    for (let i = first; i <= lastIdx; i++) {
      const c = h[i] as Change;
      const w = this.drawA(e, c.a) * wPerA;
      lowW = Math.min(lowW, c.upTo ? 0 : w);
      highW = Math.max(highW, w);
    }
    // A reading taken after the vehicle should have followed its last change may show it drawing less
    // than its set-point.
    const last = h[h.length - 1] as Change;
    if (r && r.ts >= last.at + hi && r.ts <= at) {
      lowW = Math.min(lowW, r.value);
      highW = Math.max(highW, r.value);
      stayW = Math.min(stayW, r.value);
    }
    return { lowW, highW, stayW, measured: false, learnt: this.learnt };
  }

  private drawA(e: EvseState, a: number): number {
    return Math.max(0, Math.min(e.maxCurrentA, a > 0 ? a + this.offsetA : 0));
  }

  /**
   * From a reading: which recent set-point the vehicle is on, so the bounds of its delay. It followed
   * the earliest change the reading matches within the time since that change was sent (an upper
   * bound, valid whichever it is on); it had not followed the change after the latest one it matches
   * (a lower bound). Learnt once per reading.
   */
  private learn(e: EvseState, w: number, ts: number): void {
    if (ts === this.learntFrom) return;
    this.learntFrom = ts;
    const wPerA = this.phases * e.voltageV;
    if (!(wPerA > 0)) return;
    const a = w / wPerA - this.offsetA;
    const h = this.history;
    let earliest = -1;
    let latest = -1;
    for (let i = 0; i < h.length; i++) {
      const c = h[i] as Change;
      if (c.upTo || c.at > ts || Math.abs(a - c.a) > FOLLOWED_TOLERANCE_A) continue;
      if (earliest < 0) earliest = i;
      latest = i;
    }
    if (earliest < 0) return;
    const e0 = h[earliest] as Change;
    // Only a change the reading tells apart from the one before it shows the vehicle followed it (a
    // reading on 6.1 A matches a later 6.0 A too, and the 6.1 A one may already be out of the history).
    const before = h[earliest - 1];
    const distinct = before !== undefined && (before.upTo || Math.abs(a - before.a) > FOLLOWED_TOLERANCE_A);
    if (distinct && Number.isFinite(e0.at)) {
      this.delayHiMs = Math.min(this.learnt ? this.delayHiMs : this.maxDelayMs, Math.max(0, ts - e0.at));
      this.learnt = true;
    }
    const next = h[latest + 1];
    if (next && next.at <= ts) this.delayLoMs = Math.min(this.maxDelayMs, Math.max(this.delayLoMs, ts - next.at));
    if (earliest === latest) {
      this.onAt = Math.max(this.onAt, e0.at);
      if (e0.a > 0 && latest === h.length - 1) {
        const seen = w / wPerA - e0.a;
        this.offsetA = this.offsetSeen ? 0.5 * this.offsetA + 0.5 * seen : seen;
        this.offsetSeen = true;
      }
    }
  }
}
