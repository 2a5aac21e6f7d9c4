import { isFresh } from '../src/model/reading.js';
import type { BatteryCommand, SiteSnapshot } from '../src/model/site.js';

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
