import type { Decision, Limit } from '../src/model/decision.js';
import { isFresh } from '../src/model/reading.js';
import { type PhaseValues, ROTATION, type SiteSnapshot } from '../src/model/site.js';

export interface LoadManagementConfig {
  /** Maximum grid import of the site (contract or connection), W. */
  readonly limitW: number;
  /**
   * Headroom kept below the limit, W: covers load changes while vehicles follow a new set-point. A
   * floor: the margin the control loop measured (`SiteSnapshot.measuredMargin`) is kept when larger.
   */
  readonly marginW: number;
  /** Keep the measured margin when it is larger than `marginW` (otherwise it is only shown in the reason). */
  readonly measuredMargin?: boolean;
  /** Age after which an EVSE reading is not trusted, ms. */
  readonly staleAfterMs: number;
  /** Per-phase main fuse of the grid connection, A (enables the per-phase budget). */
  readonly fuseA?: number;
  /** Headroom kept below the fuse on every phase, A. */
  readonly marginA?: number;
  /** Age after which the grid phase currents are not trusted, ms (default: staleAfterMs). */
  readonly gridStaleAfterMs?: number;
}

/**
 * Keep grid import under the site limit and every phase under the main
 * fuse. What the non-controllable loads (building, PV, battery) take is
 * measured as meter minus the EVSEs' own measured draw, so a car drawing
 * more than its set-point is accounted for as it is (the allocator also
 * learns and reserves each vehicle's overdraw).
 *
 * - contract: `evses` power budget = limit - margin - other load;
 * - safety:   `node:site` per-phase budget = fuse - margin - other load on
 *   that phase, in site phase order (EVSE currents mapped through their
 *   phase rotation), so a heavily loaded L1 does not throttle cars on L2/L3.
 */
export function decide(snapshot: SiteSnapshot, config: LoadManagementConfig, now: number): Decision {
  const grid = snapshot.grid.powerW;
  if (!grid || snapshot.stale.includes('grid.powerW')) return { limits: [], requests: [] };
  // Known loads: each charger's draw (measured, or estimated from its set-point by the control loop
  // when its charger has not confirmed it: source 'estimate') and the battery's own power. Neither is
  // building load: counting a battery's discharge as less building load handed it to the vehicles and
  // the battery and vehicles chased each other.
  let evseW = 0;
  let estimatedW = 0;
  for (const e of snapshot.evses) {
    if (!e.powerW || !isFresh(e.powerW, now, config.staleAfterMs)) continue;
    evseW += e.powerW.value;
    if (e.powerW.source === 'estimate') estimatedW += e.powerW.value;
  }
  const bat = snapshot.battery.powerW;
  const batteryW = bat && isFresh(bat, now, config.staleAfterMs) ? bat.value : 0;
  const baseLoadW = grid.value - evseW - batteryW;
  // The margin: the configured one, or what the control loop measured the balance needs when more.
  const measured = snapshot.measuredMargin;
  const marginW = config.measuredMargin && measured && measured.w > config.marginW ? measured.w : config.marginW;
  const why = measured
    ? ` (${marginW > config.marginW ? 'measured' : `${config.measuredMargin ? 'floor' : 'configured'}; measured ${fmtKw(measured.w)}`}: ${measured.why})`
    : '';
  const budgetW = Math.max(0, config.limitW - marginW - baseLoadW);
  const limits: Limit[] = [
    {
      scope: 'evses',
      maxImportW: budgetW,
      reason: {
        policy: 'load-management',
        tier: 'contract',
        text: `site import limit ${fmtKw(config.limitW)} less ${fmtKw(marginW)} margin${why} and ${fmtKw(baseLoadW)} other load leaves ${fmtKw(budgetW)} for charging (grid ${fmtKw(grid.value)} less charging ${fmtKw(evseW)}${estimatedW > 0 ? `, ${fmtKw(estimatedW)} of it estimated from set-points` : ''}${batteryW !== 0 ? `, battery ${fmtKw(batteryW)}` : ''})`,
      },
    },
  ];
  const currents = snapshot.grid.currentsA;
  if (
    config.fuseA !== undefined &&
    currents &&
    isFresh(currents, now, config.gridStaleAfterMs ?? config.staleAfterMs)
  ) {
    const base: [number, number, number] = [currents.value[0], currents.value[1], currents.value[2]];
    for (const e of snapshot.evses) {
      if (!e.currentsA || !isFresh(e.currentsA, now, config.staleAfterMs)) continue;
      const idx = ROTATION[e.phaseRotation];
      for (let i = 0; i < 3; i++) {
        const p = idx[i] as number;
        base[p] = (base[p] as number) - (e.currentsA.value[i] as number);
      }
    }
    const margin = config.marginA ?? 1;
    const avail = base.map((b) => Math.max(0, config.fuseA! - margin - Math.max(0, b))) as unknown as PhaseValues;
    const worst = base.indexOf(Math.max(...base));
    limits.push({
      scope: 'node:site',
      maxPhaseCurrentsA: avail,
      reason: {
        policy: 'load-management',
        tier: 'safety',
        text: `main fuse ${config.fuseA} A per phase less ${margin} A margin; other load ${base.map((b) => b.toFixed(1)).join('/')} A leaves ${avail.map((a) => a.toFixed(1)).join('/')} A (L${worst + 1} most loaded)`,
      },
    });
  }
  return { limits, requests: [] };
}

function fmtKw(w: number): string {
  return `${(w / 1000).toFixed(1)} kW`;
}
