import type { Decision } from '../src/model/decision.js';
import type { SiteSnapshot } from '../src/model/site.js';

export interface FailsafeConfig {
  /** Budget for all controllable loads while the grid meter is stale, W. */
  readonly failsafeLimitW: number;
}

/**
 * Safety tier: when the grid meter is stale nobody knows the site's load,
 * so every controllable load shares a fixed safe budget instead of reusing
 * an old reading.
 */
export function decide(snapshot: SiteSnapshot, config: FailsafeConfig): Decision {
  if (!snapshot.stale.includes('grid.powerW')) return { limits: [], requests: [] };
  const grid = snapshot.grid.powerW;
  // Never read: the gateway has just started. The budget is as safe, but a session it pauses is
  // paused by not knowing yet, not by the site: it may resume as soon as the meter is read (the
  // minimum off time kept such sessions off for 30 s after every start).
  const text = grid
    ? `grid meter stale (${Math.round((snapshot.ts - grid.ts) / 100) / 10} s old): failsafe budget ${config.failsafeLimitW} W`
    : `grid meter not read yet since start-up: failsafe budget ${config.failsafeLimitW} W`;
  return {
    limits: [
      {
        scope: 'evses',
        maxImportW: config.failsafeLimitW,
        reason: { policy: 'failsafe', tier: 'safety', text, ...(grid ? {} : { transient: true as const }) },
      },
    ],
    requests: [],
  };
}
