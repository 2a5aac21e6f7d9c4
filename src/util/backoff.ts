/**
 * The one exponential back-off of the gateway: every reconnect, retry and
 * probe of an unreachable peer waits `next()` before trying again and calls
 * `reset()` after a success. Jitter (full-range "decorrelation" is not
 * needed here) spreads the delays of many links that failed together — 1000
 * chargers whose CMS came back must not reconnect in the same millisecond.
 */
export interface BackoffOptions {
  /** First delay, ms. */
  readonly initialMs: number;
  /** Largest delay, ms. */
  readonly maxMs: number;
  /** Growth per failure (default 2). */
  readonly factor?: number;
  /**
   * Fraction of the delay that is random: 0 gives exact delays, 0.5 gives a
   * delay in [d/2, d] (default 0).
   */
  readonly jitter?: number;
  /** Source of randomness in [0, 1) (injected in tests). */
  readonly random?: () => number;
}

export class Backoff {
  private attempt = 0;

  constructor(private readonly opts: BackoffOptions) {
    if (opts.initialMs <= 0 || opts.maxMs < opts.initialMs) {
      throw new Error(`back-off needs 0 < initialMs <= maxMs (got ${opts.initialMs}, ${opts.maxMs})`);
    }
  }

  /** Failures since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The un-jittered delay the next failure would wait, ms. */
  peek(): number {
    return delayFor(this.opts, this.attempt);
  }

  /** Delay before the next try, ms; each call counts one more failure. */
  next(): number {
    const d = delayFor(this.opts, this.attempt);
    this.attempt++;
    const jitter = this.opts.jitter ?? 0;
    if (jitter <= 0) return d;
    const r = (this.opts.random ?? Math.random)();
    return Math.round(d * (1 - jitter) + d * jitter * r);
  }

  /** After a success: the next failure waits `initialMs` again. */
  reset(): void {
    this.attempt = 0;
  }
}

/** Delay after `attempt` earlier failures: min(max, initial · factor^attempt). */
export function delayFor(opts: BackoffOptions, attempt: number): number {
  const factor = opts.factor ?? 2;
  // Capped exponent so a long outage never overflows to Infinity.
  return Math.min(opts.maxMs, opts.initialMs * factor ** Math.min(attempt, 60));
}
