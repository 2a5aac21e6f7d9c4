import { reading } from '../../src/model/reading.js';
import type { EvseState, SiteSnapshot } from '../../src/model/site.js';

/** A site snapshot at `now`: the grid meter reading `gridW` then, the given EVSEs, nothing else known. */
export function siteSnapshot(now: number, gridW: number, evses: EvseState[]): SiteSnapshot {
  return {
    ts: now,
    siteId: 't',
    grid: { powerW: reading(gridW, now, 'meter') },
    pv: {},
    battery: {},
    evses,
    devices: [],
    stale: [],
  };
}
