import type { Decision, PowerRequest } from '../src/model/decision.js';
import { isFresh } from '../src/model/reading.js';
import { type BatteryCommand, SESSION_STATUSES, type SiteSnapshot } from '../src/model/site.js';

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
  /** Time the battery takes to follow a set-point until the grid meter shows it, ms (default 3 s). */
  readonly settleMs?: number;
  /** Changes of the set-point smaller than this are not made, W (default 1 kW). */
  readonly deadbandW?: number;
  /** A change against the direction of the last one must be at least this large, W (default 2 kW). */
  readonly reverseBandW?: number;
  /** ... and comes at least this long after the last change, ms (default 30 s: at most two reversals a minute). */
  readonly reverseAfterMs?: number;
  /** Largest change of the set-point in one step (one step per settle time), W (default 2.5 kW). */
  readonly maxStepW?: number;
}

const DEFAULT_DEADBAND_W = 1000;
const DEFAULT_REVERSE_BAND_W = 2000;
const DEFAULT_REVERSE_AFTER_MS = 30_000;
const DEFAULT_MAX_STEP_W = 2500;

/**
 * Stationary battery, optimisation tier: self-consumption (store surplus,
 * cover import) between a SoC floor and ceiling, and charge from the grid
 * when energy is cheap, within the site limit. The set-point is a request
 * with target `battery:<id>` (+ charge, - discharge).
 *
 * Against oscillation: the battery enters the balance as battery power at
 * the meter's sample (see `batteryBalance`); while the battery is still
 * following its last set-point that set-point is kept (the meter has not
 * shown its effect yet, acting on it would count it twice); a change smaller
 * than the dead-band is not made, and one against the direction of the last
 * change needs the wider reverse band and waits `reverseAfterMs` after the
 * last change (hysteresis: the cars' readings lag their draw, so the balance
 * swings for a few seconds whenever they ramp); a change moves at most
 * `maxStepW` per step, so such a swing moves the battery a little, not all
 * the way (a real change is followed a step per settle time). Made at once
 * whatever the hysteresis: stops at the SoC floor or ceiling, a cut of grid charging to
 * the site limit, and backing off when the battery itself pushes the grid
 * the wrong way (discharging into export, storing "surplus" from import).
 * Self-consumption never endangers an import limit (load management budgets
 * the cars as if the battery were idle), so slowness here costs only a
 * little self-consumption.
 */
export function decide(snapshot: SiteSnapshot, config: BatteryConfig, now: number): Decision {
  const grid = snapshot.grid.powerW;
  const b = snapshot.battery;
  if (!grid || snapshot.stale.includes('grid.powerW')) return { limits: [], requests: [] };
  if (!b.socPct || !isFresh(b.socPct, now, config.staleAfterMs)) return { limits: [], requests: [] };
  const soc = b.socPct.value;
  const balance = batteryBalance(snapshot, config.batteryId, now, config.staleAfterMs, config.settleMs);
  let evseW = 0;
  let evHeadroomW = 0;
  for (const e of snapshot.evses) {
    if (!SESSION_STATUSES.has(e.status)) continue;
    const w = e.powerW && isFresh(e.powerW, now, config.staleAfterMs) ? e.powerW.value : 0;
    evseW += w;
    evHeadroomW += Math.max(0, e.maxCurrentA * (e.vehiclePhases ?? e.phases) * e.voltageV - w);
  }
  // Grid as it would be without the battery, at the meter's sample.
  const withoutBatteryW = grid.value - balance.atMeterW;
  const target = `battery:${config.batteryId}`;
  const req = (powerW: number, text: string): Decision => ({
    limits: [],
    requests: [{ target, powerW, reason: { policy: 'battery', tier: 'optimisation', text } } satisfies PowerRequest],
  });
  const headroomW = Math.max(0, config.siteLimitW - config.marginW - withoutBatteryW);
  // A kept set-point never charges from the grid beyond the site limit: that cut is made at once.
  const keep = (w: number, text: string): Decision =>
    w > headroomW
      ? req(headroomW, `${text}; charging cut to the ${fmtKw(headroomW)} the site limit leaves`)
      : req(w, text);
  const following = balance.following;
  const last = balance.command;
  // Fast buffer: the grid above the site limit (vehicles not yet following their cut, a building
  // step the chargers are being cut for) is covered by discharging at once, whatever the hysteresis
  // or a set-point still on its way: load management cuts the vehicles, the battery covers the gap
  // until they have followed. Sized from the battery's power at the meter's sample (back under the
  // limit less the margin), so a discharge already commanded for the same excess is not added twice;
  // a battery charging from the grid is only cut (below), never turned round here.
  const overW = grid.value - config.siteLimitW;
  const needW = Math.max(-config.maxDischargeW, balance.atMeterW - overW - config.marginW);
  if (overW > 0 && needW < 0 && soc > config.socFloorPct) {
    const commandedW = following?.powerW ?? last?.powerW;
    if (commandedW === undefined || commandedW > needW + deadbandOf(config))
      return req(
        needW,
        `fast buffer: grid ${fmtKw(grid.value)} above the ${fmtKw(config.siteLimitW)} site limit; discharging ${fmtKw(-needW)} until the vehicles have followed their cut`,
      );
  }
  if (following) {
    const ageS = ((now - following.ts) / 1000).toFixed(1);
    return keep(
      following.powerW,
      `holding ${fmtKw(following.powerW)}: the battery took it ${ageS} s ago and the grid meter has not shown it settled yet`,
    );
  }
  const deadbandW = deadbandOf(config);
  // The battery pushes the grid the wrong way (discharging into export, charging from import): back off at once.
  const wrongWay =
    last !== undefined && ((last.powerW < 0 && grid.value < -deadbandW) || (last.powerW > 0 && grid.value > deadbandW));
  // Hysteresis against the last set-point: small changes are not made, reversals need a wider band and a pause.
  const steady = (w: number, text: string, backOff = false): Decision => {
    if (!last) return req(w, text);
    const delta = w - last.powerW;
    const lastDir = Math.sign(last.powerW - last.previousW);
    const reverses = lastDir !== 0 && Math.sign(delta) === -lastDir;
    const band = reverses ? (config.reverseBandW ?? DEFAULT_REVERSE_BAND_W) : deadbandW;
    const kept = `${text}; keeps ${fmtKw(last.powerW)}`;
    if (Math.abs(delta) < band)
      return keep(
        last.powerW,
        `${kept}: the change of ${fmtKw(delta)} is inside the ${fmtKw(band)} ${reverses ? 'reverse band' : 'dead-band'}`,
      );
    if (backOff) return req(w, text);
    const waitMs = (config.reverseAfterMs ?? DEFAULT_REVERSE_AFTER_MS) - (now - last.ts);
    if (reverses && waitMs > 0)
      return keep(
        last.powerW,
        `${kept}: turning back ${fmtKw(delta)} waits ${(waitMs / 1000).toFixed(0)} s more after the last change`,
      );
    const maxStepW = config.maxStepW ?? DEFAULT_MAX_STEP_W;
    if (Math.abs(delta) <= maxStepW) return req(w, text);
    const stepped = last.powerW + Math.sign(delta) * maxStepW;
    return req(stepped, `${text}; moving ${fmtKw(maxStepW)} per step: ${fmtKw(stepped)} now`);
  };
  if (
    config.priceEurPerKwh !== undefined &&
    config.cheapBelowEurPerKwh !== undefined &&
    config.priceEurPerKwh < config.cheapBelowEurPerKwh &&
    soc < config.socCeilingPct
  ) {
    const w = Math.min(config.maxChargeW, headroomW);
    return steady(w, `cheap energy (${config.priceEurPerKwh} €/kWh): charging ${fmtKw(w)} from the grid`);
  }
  if (withoutBatteryW < 0) {
    // Surplus: store what the cars do not take first (ev-first) or store it first (battery-first).
    const surplus = -withoutBatteryW - (config.evFirst ? evHeadroomW : 0);
    if (soc >= config.socCeilingPct) return req(0, `SoC ${soc.toFixed(0)} % at ceiling ${config.socCeilingPct} %`);
    const w = Math.max(0, Math.min(config.maxChargeW, surplus, headroomW));
    return steady(w, `self-consumption: storing ${fmtKw(w)} of solar surplus`, wrongWay);
  }
  const toCover = config.dischargeForEvs ? withoutBatteryW : Math.max(0, withoutBatteryW - evseW);
  if (soc <= config.socFloorPct) return req(0, `SoC ${soc.toFixed(0)} % at floor ${config.socFloorPct} %`);
  const w = Math.min(config.maxDischargeW, toCover);
  return steady(-w, `self-consumption: covering ${fmtKw(w)} of import`, wrongWay);
}

function deadbandOf(config: BatteryConfig): number {
  return config.deadbandW ?? DEFAULT_DEADBAND_W;
}

function fmtKw(w: number): string {
  return `${(w / 1000).toFixed(1)} kW`;
}

/** How long a battery takes to follow a new set-point before the grid meter shows it, ms (BMS + inverter + polls). */
export const DEFAULT_BATTERY_SETTLE_MS = 3000;

export interface BatteryBalance {
  /** The battery power (all units) in the grid meter's last sample, W (+ charging, - discharging). */
  readonly atMeterW: number;
  /**
   * The set-point the battery was still following when the meter sampled: until the meter has
   * seen it settle, `grid - battery` mixes the old battery power into the new meter value (or
   * the new battery reading into an old meter value) and the balance is not known.
   */
  readonly following?: BatteryCommand;
  /** The last set-point the controlled unit confirmed, if any. */
  readonly command?: BatteryCommand;
}

/**
 * The battery's part of the site balance at the grid meter's sample. The battery is a known
 * load: the grid less the battery is what the site would import without it. A battery (its
 * BMS, its inverter, the readings of both) follows a set-point a second or more late, so the
 * measured battery power and the grid sample are only comparable once the meter sampled after
 * the battery settled; before that the balance is reported as `following`.
 */
export function batteryBalance(
  snapshot: SiteSnapshot,
  batteryId: string | undefined,
  now: number,
  staleAfterMs: number,
  settleMs = DEFAULT_BATTERY_SETTLE_MS,
): BatteryBalance {
  const total = snapshot.battery.powerW;
  const totalW = total && isFresh(total, now, staleAfterMs) ? total.value : 0;
  const command = batteryId !== undefined ? snapshot.batteryCommands?.[batteryId] : undefined;
  if (!command) return { atMeterW: totalW };
  const gridTs = snapshot.grid.powerW?.ts ?? 0;
  if (gridTs < command.ts + settleMs) return { atMeterW: totalW, following: command, command };
  // The controlled unit: its own reading when it was taken after the command, else the command.
  const unit = (batteryId !== undefined ? snapshot.batteries?.[batteryId] : undefined)?.powerW ?? total;
  const unitW = unit && isFresh(unit, now, staleAfterMs) ? unit.value : 0;
  const unitAtMeterW = unit && unit.ts >= command.ts ? unitW : command.powerW;
  return { atMeterW: totalW - unitW + unitAtMeterW, command };
}
