/**
 * The margin the site balance needs, sized from what the control loop measures rather than fixed:
 * how far the building load (grid − battery − charging, as the draw estimate derives it) moves
 * within the time the vehicles take to follow a set-point. A decrease sent now is drawn until then,
 * so whatever the building adds meanwhile must fit in the margin. Measured as the spread of the
 * building load's change over that time, a robust one (the median of its size: the rare step of a
 * large load is left to the reaction, not kept back for ever). The building load is sampled only
 * when every vehicle's draw at the meter's moment is known (read, or past every change), so what
 * moves is the building, the meter's noise and vehicles straying from their set-points, not the
 * estimator's own open follow windows. Load management keeps the larger of this and its
 * configured margin (the floor).
 */
export interface MeasuredMargin {
  readonly w: number;
  /** Why it is that size (API, limit reason). */
  readonly why: string;
}

/** Building-load samples kept, and the fewest changes the spread is taken from. */
const SAMPLES = 240;
const MIN_CHANGES = 20;
/** Changes the spread is taken from (the latest ones). */
const CHANGES = 120;
/** A pair of samples at most this much further apart than the response time is compared, ms. */
const PAIR_SLACK_MS = 1000;
/** Spread to margin: 3 σ, σ from the median absolute change (1.4826 · MAD for a normal spread). */
const K = 3 * 1.4826;

export class MarginMeter {
  private readonly ts = new Float64Array(SAMPLES);
  private readonly w = new Float64Array(SAMPLES);
  private n = 0;
  private head = 0;
  private readonly scratch: number[] = [];

  /** A building-load value derived from a grid sample at `ts` (one per sample; repeats are ignored). */
  sample(ts: number, buildingW: number): void {
    if (this.n > 0 && ts <= (this.ts[(this.head + SAMPLES - 1) % SAMPLES] as number)) return;
    this.ts[this.head] = ts;
    this.w[this.head] = buildingW;
    this.head = (this.head + 1) % SAMPLES;
    if (this.n < SAMPLES) this.n++;
  }

  /** The margin for vehicles that follow within `responseMs`; undefined until enough samples have been seen. */
  margin(responseMs: number): MeasuredMargin | undefined {
    const d = this.scratch;
    d.length = 0;
    // Walk back from the newest sample; for each, the building load `responseMs` before it. Samples
    // are taken only while every draw is known, so they come in bursts: a pair further apart than
    // the response (plus a poll or two) would measure how the building moves over a longer time
    // (a load step long ago), not within the response, and is skipped.
    let j = this.n - 1;
    for (let i = this.n - 1; i >= 0 && d.length < CHANGES; i--) {
      const ti = this.at(i);
      if (j >= i) j = i - 1;
      while (j >= 0 && this.at(j) > ti - responseMs) j--;
      if (j < 0) break;
      if (ti - this.at(j) <= responseMs + PAIR_SLACK_MS) d.push(Math.abs(this.wAt(i) - this.wAt(j)));
    }
    if (d.length < MIN_CHANGES) return undefined;
    d.sort((a, b) => a - b);
    const mid = d.length >> 1;
    const median = d.length % 2 ? (d[mid] as number) : 0.5 * ((d[mid - 1] as number) + (d[mid] as number));
    const w = K * median;
    const why = `building load moves ±${(w / 1000).toFixed(2)} kW within the vehicles' ${(responseMs / 1000).toFixed(1)} s response (3σ of ${d.length} changes)`;
    return { w, why };
  }

  /** The i-th sample, oldest first. */
  private at(i: number): number {
    return this.ts[(this.head - this.n + i + 2 * SAMPLES) % SAMPLES] as number;
  }

  private wAt(i: number): number {
    return this.w[(this.head - this.n + i + 2 * SAMPLES) % SAMPLES] as number;
  }
}
