import type { Decision } from '../src/model/decision.js';
import { isFresh } from '../src/model/reading.js';
import { type EvseState, SESSION_STATUSES, type SiteSnapshot } from '../src/model/site.js';

export type SolarMode = 'solar-only' | 'min+solar' | 'fast';

export interface SolarConfig {
  /**
   * `solar-only`: charge from surplus only, pause when it is gone;
   * `min+solar`: every session at least its minimum, surplus on top;
   * `fast`: no solar constraint (the policy is silent).
   */
  readonly mode: SolarMode;
  /** Who gets the surplus first when a battery is present. */
  readonly priority: 'battery-first' | 'ev-first';
  /** Largest battery charge power, W (with battery-first the battery keeps this much of the surplus). */
  readonly batteryMaxChargeW?: number;
  /** Battery stops taking surplus at this state of charge, %. */
  readonly batterySocCeilingPct?: number;
  /** Surplus above the sum of minimums needed before a paused car starts, W (solar-only). */
  readonly startMarginW: number;
  /** Grid import tolerated before running cars are paused, W (solar-only): a passing cloud is not a stop. */
  readonly stopToleranceW: number;
  readonly staleAfterMs: number;
}

/**
 * Solar matching, optimisation tier. The surplus is what the EVSEs could
 * take without importing: `-(grid) + EV draw` (+ battery charge in
 * ev-first mode, because the battery yields to the cars; - the battery's
 * wish in battery-first mode). The result is a limit on `evses` that binds
 * only the optimisation tier and below: a fleet deadline is never held back
 * by the weather.
 *
 * Against flapping: different start and stop thresholds chosen from the
 * measured state (cars drawing or not) here, and min-on / min-off times in
 * the allocator.
 */
export function decide(snapshot: SiteSnapshot, config: SolarConfig, now: number): Decision {
  if (config.mode === 'fast') return { limits: [], requests: [] };
  const grid = snapshot.grid.powerW;
  if (!grid || snapshot.stale.includes('grid.powerW')) return { limits: [], requests: [] };
  const sessions = snapshot.evses.filter((e) => SESSION_STATUSES.has(e.status));
  if (sessions.length === 0) return { limits: [], requests: [] };
  let evseW = 0;
  for (const e of sessions) if (e.powerW && isFresh(e.powerW, now, config.staleAfterMs)) evseW += e.powerW.value;
  let surplusW = -grid.value + evseW;
  const bat = snapshot.battery;
  const batW = bat.powerW && isFresh(bat.powerW, now, config.staleAfterMs) ? bat.powerW.value : 0;
  const soc = bat.socPct && isFresh(bat.socPct, now, config.staleAfterMs) ? bat.socPct.value : undefined;
  const batteryWants =
    config.batteryMaxChargeW !== undefined && soc !== undefined && soc < (config.batterySocCeilingPct ?? 100)
      ? config.batteryMaxChargeW
      : 0;
  if (config.priority === 'ev-first') surplusW += Math.max(0, batW);
  else surplusW += batW - batteryWants;

  const minW = (e: EvseState) => e.minCurrentA * (e.vehiclePhases ?? e.phases) * e.voltageV;
  const minSumW = sessions.reduce((s, e) => s + minW(e), 0);
  const smallestMinW = Math.min(...sessions.map(minW));
  const drawing = evseW > 100;
  let budgetW: number;
  let text: string;
  if (config.mode === 'min+solar') {
    budgetW = Math.max(minSumW, surplusW);
    text =
      surplusW > minSumW
        ? `min+solar: solar surplus ${fmtKw(surplusW)}`
        : `min+solar: surplus ${fmtKw(surplusW)} below the minimums; ${fmtKw(minSumW)} at minimum current`;
  } else if (drawing) {
    budgetW = Math.max(0, surplusW + config.stopToleranceW);
    text = `solar-only: surplus ${fmtKw(surplusW)} (+${fmtKw(config.stopToleranceW)} tolerated import before pausing)`;
  } else if (surplusW >= smallestMinW + config.startMarginW) {
    budgetW = surplusW;
    text = `solar-only: surplus ${fmtKw(surplusW)} is enough to start`;
  } else {
    budgetW = 0;
    text = `solar-only: surplus ${fmtKw(surplusW)} below the ${fmtKw(smallestMinW + config.startMarginW)} needed to start`;
  }
  return {
    limits: [{ scope: 'evses', maxImportW: budgetW, reason: { policy: 'solar', tier: 'optimisation', text } }],
    requests: [],
  };
}

function fmtKw(w: number): string {
  return `${(w / 1000).toFixed(1)} kW`;
}
