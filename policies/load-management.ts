import type { Decision } from '../src/model/decision.js';
import { isFresh } from '../src/model/reading.js';
import type { SiteSnapshot } from '../src/model/site.js';

export interface LoadManagementConfig {
  /** Maximum grid import of the site, W. */
  readonly limitW: number;
  /** Headroom kept below the limit, W. */
  readonly marginW: number;
  /** Age after which an EVSE power reading is not trusted, ms. */
  readonly staleAfterMs: number;
}

/**
 * Keep grid import under the site limit: whatever the non-controllable
 * loads (building, PV, battery) take from the limit is what the EVSEs may
 * share. Base load is derived from the meter minus the measured EVSE power,
 * so a car drawing more than its set-point is accounted for as it is.
 */
export function decide(snapshot: SiteSnapshot, config: LoadManagementConfig, now: number): Decision {
  const grid = snapshot.grid.powerW;
  if (!grid || snapshot.stale.includes('grid.powerW')) return { limits: [], requests: [] };
  let evseW = 0;
  for (const e of snapshot.evses) {
    if (e.powerW && isFresh(e.powerW, now, config.staleAfterMs)) evseW += e.powerW.value;
  }
  const baseLoadW = grid.value - evseW;
  const budgetW = Math.max(0, config.limitW - config.marginW - baseLoadW);
  return {
    limits: [
      {
        scope: 'evses',
        maxImportW: budgetW,
        reason: {
          policy: 'load-management',
          tier: 'contract',
          text: `site import limit ${fmtKw(config.limitW)} less ${fmtKw(config.marginW)} margin and ${fmtKw(baseLoadW)} other load leaves ${fmtKw(budgetW)} for charging`,
        },
      },
    ],
    requests: [],
  };
}

function fmtKw(w: number): string {
  return `${(w / 1000).toFixed(1)} kW`;
}
