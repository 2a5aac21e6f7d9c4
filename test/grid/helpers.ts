import { GridSchema, type GridConfig } from '../../src/config/sections/grid.js';
import type { EvseState, SiteSnapshot } from '../../src/model/site.js';
import { reading } from '../../src/model/reading.js';

export function gridConfig(overrides: Record<string, unknown> = {}): GridConfig {
  return GridSchema.parse(overrides);
}

export function evse(id: string, powerW: number, ts: number, extra: Partial<EvseState> = {}): EvseState {
  return {
    id,
    chargerId: id.split('/')[0] ?? id,
    connectorId: 1,
    protocol: 'sim',
    circuitId: 'site',
    phaseRotation: 'L1L2L3',
    phases: 3,
    minCurrentA: 6,
    maxCurrentA: 32,
    voltageV: 230,
    bidirectional: false,
    priority: 0,
    status: 'Charging',
    powerW: reading(powerW, ts, id),
    ...extra,
  };
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
