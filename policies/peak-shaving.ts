import type { Decision, Limit, PowerRequest } from '../src/model/decision.js';
import { isFresh } from '../src/model/reading.js';
import type { SiteSnapshot } from '../src/model/site.js';
import { batteryBalance } from './battery.js';

export interface PeakShavingConfig {
  /** Import the site must stay under (contracted capacity or a lower peak target), W. */
  readonly targetW: number;
  readonly marginW: number;
  /** Battery that shaves peaks, if any. */
  readonly batteryId?: string;
  readonly batteryMaxDischargeW?: number;
  readonly batterySocFloorPct?: number;
  readonly staleAfterMs: number;
  /** Time the battery takes to follow a set-point until the grid meter shows it, ms (default 3 s). */
  readonly batterySettleMs?: number;
}

/**
 * Contract tier: keep import under the contracted capacity. The battery
 * discharges by what the site would import above the target, and the EVSEs
 * get a budget that counts the battery's remaining discharge power as
 * available, so the cars are throttled only for what the battery cannot
 * cover.
 *
 * The battery enters the balance as battery power at the meter's sample.
 * While it is still following its last set-point the balance is uncertain:
 * the discharge may grow at once (the safe side of a peak), but it is not
 * taken back before the meter has shown the battery settled.
 */
export function decide(snapshot: SiteSnapshot, config: PeakShavingConfig, now: number): Decision {
  const grid = snapshot.grid.powerW;
  if (!grid || snapshot.stale.includes('grid.powerW')) return { limits: [], requests: [] };
  let evseW = 0;
  for (const e of snapshot.evses) if (e.powerW && isFresh(e.powerW, now, config.staleAfterMs)) evseW += e.powerW.value;
  const b = snapshot.battery;
  const balance = batteryBalance(snapshot, config.batteryId, now, config.staleAfterMs, config.batterySettleMs);
  const soc = b.socPct && isFresh(b.socPct, now, config.staleAfterMs) ? b.socPct.value : undefined;
  const canDischargeW =
    config.batteryId !== undefined && soc !== undefined && soc > (config.batterySocFloorPct ?? 10)
      ? (config.batteryMaxDischargeW ?? 0)
      : 0;
  const withoutBatteryW = grid.value - balance.atMeterW;
  const otherW = withoutBatteryW - evseW;
  const target = config.targetW - config.marginW;
  const budgetW = Math.max(0, target - otherW + canDischargeW);
  const limits: Limit[] = [
    {
      scope: 'evses',
      maxImportW: budgetW,
      reason: {
        policy: 'peak-shaving',
        tier: 'contract',
        text: `peak target ${fmtKw(config.targetW)}: ${fmtKw(otherW)} other load${canDischargeW > 0 ? `, ${fmtKw(canDischargeW)} battery` : ''} leaves ${fmtKw(budgetW)} for charging`,
      },
    },
  ];
  const requests: PowerRequest[] = [];
  const excess = withoutBatteryW - target;
  // While the battery follows a discharge set-point of ours, that much stays asked for.
  const heldW = balance.following && balance.following.powerW < 0 ? -balance.following.powerW : 0;
  if (config.batteryId !== undefined && (excess > 0 || heldW > 0) && canDischargeW > 0) {
    const w = Math.min(canDischargeW, Math.max(excess, heldW));
    requests.push({
      target: `battery:${config.batteryId}`,
      powerW: -w,
      reason: {
        policy: 'peak-shaving',
        tier: 'contract',
        text:
          excess >= heldW
            ? `shaving ${fmtKw(w)} above the ${fmtKw(config.targetW)} target`
            : `holding ${fmtKw(w)} discharge until the meter shows the battery settled (${fmtKw(Math.max(0, excess))} above the ${fmtKw(config.targetW)} target before that)`,
      },
    });
  }
  return { limits, requests };
}

function fmtKw(w: number): string {
  return `${(w / 1000).toFixed(1)} kW`;
}
