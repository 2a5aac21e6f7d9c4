import type { Decision, PowerRequest } from '../src/model/decision.js';
import { isFresh } from '../src/model/reading.js';
import { SESSION_STATUSES, type SiteSnapshot } from '../src/model/site.js';

export interface BatteryConfig {
  readonly batteryId: string;
  readonly maxChargeW: number;
  readonly maxDischargeW: number;
  /** Never discharge below this state of charge, %. */
  readonly socFloorPct: number;
  /** Never charge above this state of charge, %. */
  readonly socCeilingPct: number;
  /** Site import limit the battery must keep to when charging from the grid, W. */
  readonly siteLimitW: number;
  readonly marginW: number;
  /** Cover the EVs' import too (otherwise only the building's). */
  readonly dischargeForEvs: boolean;
  /** EVs get the solar surplus before the battery does. */
  readonly evFirst: boolean;
  /** Current energy price and the level below which the battery charges from the grid (live input). */
  readonly priceEurPerKwh?: number;
  readonly cheapBelowEurPerKwh?: number;
  readonly staleAfterMs: number;
}

/**
 * Stationary battery, optimisation tier: self-consumption (store surplus,
 * cover import) between a SoC floor and ceiling, and charge from the grid
 * when energy is cheap, within the site limit. The set-point is a request
 * with target `battery:<id>` (+ charge, - discharge).
 */
export function decide(snapshot: SiteSnapshot, config: BatteryConfig, now: number): Decision {
  const grid = snapshot.grid.powerW;
  const b = snapshot.battery;
  if (!grid || snapshot.stale.includes('grid.powerW')) return { limits: [], requests: [] };
  if (!b.socPct || !isFresh(b.socPct, now, config.staleAfterMs)) return { limits: [], requests: [] };
  const soc = b.socPct.value;
  const batW = b.powerW && isFresh(b.powerW, now, config.staleAfterMs) ? b.powerW.value : 0;
  let evseW = 0;
  let evHeadroomW = 0;
  for (const e of snapshot.evses) {
    if (!SESSION_STATUSES.has(e.status)) continue;
    const w = e.powerW && isFresh(e.powerW, now, config.staleAfterMs) ? e.powerW.value : 0;
    evseW += w;
    evHeadroomW += Math.max(0, e.maxCurrentA * (e.vehiclePhases ?? e.phases) * e.voltageV - w);
  }
  // Grid as it would be without the battery.
  const withoutBatteryW = grid.value - batW;
  const target = `battery:${config.batteryId}`;
  const req = (powerW: number, text: string): Decision => ({
    limits: [],
    requests: [{ target, powerW, reason: { policy: 'battery', tier: 'optimisation', text } } satisfies PowerRequest],
  });
  const headroomW = Math.max(0, config.siteLimitW - config.marginW - withoutBatteryW);
  if (
    config.priceEurPerKwh !== undefined &&
    config.cheapBelowEurPerKwh !== undefined &&
    config.priceEurPerKwh < config.cheapBelowEurPerKwh &&
    soc < config.socCeilingPct
  ) {
    const w = Math.min(config.maxChargeW, headroomW);
    return req(w, `cheap energy (${config.priceEurPerKwh} €/kWh): charging ${fmtKw(w)} from the grid`);
  }
  if (withoutBatteryW < 0) {
    // Surplus: store what the cars do not take first (ev-first) or store it first (battery-first).
    const surplus = -withoutBatteryW - (config.evFirst ? evHeadroomW : 0);
    if (soc >= config.socCeilingPct) return req(0, `SoC ${soc.toFixed(0)} % at ceiling ${config.socCeilingPct} %`);
    const w = Math.max(0, Math.min(config.maxChargeW, surplus, headroomW));
    return req(w, `self-consumption: storing ${fmtKw(w)} of solar surplus`);
  }
  const toCover = config.dischargeForEvs ? withoutBatteryW : Math.max(0, withoutBatteryW - evseW);
  if (soc <= config.socFloorPct) return req(0, `SoC ${soc.toFixed(0)} % at floor ${config.socFloorPct} %`);
  const w = Math.min(config.maxDischargeW, toCover);
  return req(-w, `self-consumption: covering ${fmtKw(w)} of import`);
}

function fmtKw(w: number): string {
  return `${(w / 1000).toFixed(1)} kW`;
}
