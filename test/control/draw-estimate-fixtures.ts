import type { Setpoint } from '../../src/model/decision.js';
import { reading } from '../../src/model/reading.js';
import type { EvseState, SiteSnapshot } from '../../src/model/site.js';
import { chargingEvse } from '../helpers/evse.js';

/** Fixtures of the draw-estimate tests: 3-phase 230 V sessions, a snapshot around them, set-points. */
export const V = 230;

/** A charging session `<id>-tx` on a 32 A three-phase EVSE, with its charger's reading if given. */
export function evse(id: string, powerW?: { w: number; ts: number }): EvseState {
  return chargingEvse(id, {
    sessionId: `${id}-tx`,
    sessionStart: 1,
    ...(powerW ? { powerW: reading(powerW.w, powerW.ts, id) } : {}),
  });
}

export function snap(now: number, gridW: number, evses: EvseState[]): SiteSnapshot {
  return {
    ts: now,
    siteId: 's',
    grid: { powerW: reading(gridW, now, 'meter') },
    pv: {},
    battery: {},
    evses,
    devices: [],
    stale: [],
  };
}

export const sp = (evseId: string, a: number): Setpoint => ({
  evseId,
  currentA: a,
  powerW: a * 3 * V,
  phases: 3,
  reasons: [],
});
