/**
 * The margin the site balance needs, sized from what the control loop measures rather than fixed:
 * - how far the building load (grid − battery − charging, as the estimator derives it) moves within
 *   the time the vehicles take to follow a set-point: a decrease sent now is drawn until then, so
 *   whatever the building adds meanwhile must fit in the margin. Measured as the spread of the
 *   building load's change over that time (a robust one: the median of its size, so the rare step of
 *   a large load is left to the reaction, not kept back for ever); it contains meter noise and the
 *   estimator's own errors too;
 * - how far the estimated vehicles draw around their set-points (learnt per vehicle by the draw
 *   estimate), added in quadrature: they do not all err the same way at once.
 * Load management keeps the larger of this and its configured margin (the floor).
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
/** Spread to margin: 3 σ, σ from the median absolute change (1.4826 · MAD for a normal spread). */
const K = 3 * 1.4826;
/** Vehicle spread to margin: 2 σ of the sum. */
const K_VEHICLES = 2;

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

  /**
   * The margin for vehicles that follow within `responseMs` and estimated draws that spread by
   * `vehicleSpreadW` (their root sum of squares, W); undefined until enough samples have been seen.
   */
  margin(responseMs: number, vehicleSpreadW: number): MeasuredMargin | undefined {
    const d = this.scratch;
    d.length = 0;
    // Walk back from the newest sample; for each, the building load `responseMs` before it.
    let j = this.n - 1;
    for (let i = this.n - 1; i >= 0 && d.length < CHANGES; i--) {
      const ti = this.at(i);
      if (j >= i) j = i - 1;
      while (j >= 0 && this.at(j) > ti - responseMs) j--;
      if (j < 0) break;
      d.push(Math.abs(this.wAt(i) - this.wAt(j)));
    }
    if (d.length < MIN_CHANGES) return undefined;
    d.sort((a, b) => a - b);
    const mid = d.length >> 1;
    const median = d.length % 2 ? (d[mid] as number) : 0.5 * ((d[mid - 1] as number) + (d[mid] as number));
    const buildingW = K * median;
    const vehiclesW = K_VEHICLES * vehicleSpreadW;
    const w = buildingW + vehiclesW;
    const kw = (x: number) => `${(x / 1000).toFixed(2)} kW`;
    const why = `building load moves ±${kw(buildingW)} within the vehicles' ${(responseMs / 1000).toFixed(1)} s response (3σ of ${d.length} samples)${vehiclesW > 0 ? `, estimated vehicles spread ±${kw(vehiclesW)} around their set-points` : ''}`;
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
