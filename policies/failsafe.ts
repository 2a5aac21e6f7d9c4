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
  const age = snapshot.grid.powerW
    ? `${Math.round((snapshot.ts - snapshot.grid.powerW.ts) / 100) / 10} s old`
    : 'never read';
  return {
    limits: [
      {
        scope: 'evses',
        maxImportW: config.failsafeLimitW,
        reason: {
          policy: 'failsafe',
          tier: 'safety',
          text: `grid meter stale (${age}): failsafe budget ${config.failsafeLimitW} W`,
        },
      },
    ],
    requests: [],
  };
}
