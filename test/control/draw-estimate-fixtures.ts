import type { Setpoint } from '../../src/model/decision.js';
import { reading } from '../../src/model/reading.js';
import type { EvseState } from '../../src/model/site.js';
import { chargingEvse } from '../helpers/evse.js';
import { siteSnapshot } from '../helpers/snapshot.js';

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

/** The snapshot the estimator sees: the grid meter at `gridW` at `now`, the given sessions. */
export const snap = siteSnapshot;

export const sp = (evseId: string, a: number): Setpoint => ({
  evseId,
  currentA: a,
  powerW: a * 3 * V,
  phases: 3,
  reasons: [],
});
