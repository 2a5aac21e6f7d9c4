import type { Gauge } from 'prom-client';
import type { Logger } from '../../src/util/logger.js';

/** HTTP Date has one-second resolution: smaller differences are noise. */
const SKEW_NOISE_MS = 1500;

export interface ClockSkew {
  /** Feed every response's `Date` header (server time) with our time when it arrived. */
  observe(serverMs: number, localMs: number): void;
  /** Gateway clock minus VTN clock, ms, to add to VTN times; 0 while unknown or beyond the tolerated bound. */
  offsetMs(): number;
  readonly skewMs: () => number | undefined;
  readonly exceeded: () => boolean;
}

/**
 * The VTN's clock as seen through its `Date` headers. Within the tolerated
 * bound event times are corrected by the difference; beyond it they are
 * used as sent (a wildly wrong clock is more likely ours or theirs broken
 * than a real offset) and an operator is told once.
 */
export function clockSkew(opts: {
  maxClockSkewMs: number;
  log: Logger;
  gauge: Gauge<'source'>;
  source: string;
}): ClockSkew {
  let skewMs: number | undefined;
  let exceeded = false;
  return {
    observe(server, local) {
      const skew = server - local;
      skewMs = Math.abs(skew) < SKEW_NOISE_MS ? 0 : skew;
      opts.gauge.set({ source: opts.source }, skewMs / 1000);
      const over = Math.abs(skewMs) > opts.maxClockSkewMs;
      if (over === exceeded) return;
      exceeded = over;
      if (over)
        opts.log.error(
          { skewMs, maxClockSkewMs: opts.maxClockSkewMs },
          'VTN clock differs from ours beyond the tolerated bound; event times are used as sent',
        );
      else opts.log.info({ skewMs }, 'VTN clock back within the tolerated bound');
    },
    offsetMs: () => (skewMs !== undefined && !exceeded ? -skewMs : 0),
    skewMs: () => skewMs,
    exceeded: () => exceeded,
  };
}
