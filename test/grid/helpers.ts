import { GridSchema, type GridConfig } from '../../src/config/sections/grid.js';
import type { EvseState, SiteSnapshot } from '../../src/model/site.js';
import { reading } from '../../src/model/reading.js';
import { evseSpec } from '../helpers/evse.js';

export function gridConfig(overrides: Record<string, unknown> = {}): GridConfig {
  return GridSchema.parse(overrides);
}

export function evse(id: string, powerW: number, ts: number, extra: Partial<EvseState> = {}): EvseState {
  return { ...evseSpec(id, { protocol: 'sim' }), status: 'Charging', powerW: reading(powerW, ts, id), ...extra };
}

export function snapshot(
  ts: number,
  gridW: number | undefined,
  evses: EvseState[],
  extra: Partial<SiteSnapshot> = {},
): SiteSnapshot {
  return {
    ts,
    siteId: 'test',
    grid: gridW === undefined ? {} : { powerW: reading(gridW, ts, 'meter') },
    pv: {},
    battery: {},
    evses,
    devices: [],
    stale: gridW === undefined ? ['grid.powerW'] : [],
    ...extra,
  };
}
