import { isFresh } from '../model/reading.js';
import type { VenMeasurements } from '../model/grid.js';
import type { SiteSnapshot } from '../model/site.js';

export type { VenMeasurements };

/**
 * The measured response the site reports upstream (OpenADR reports, OSCP
 * measurements): net grid power, the battery, the V2G vehicles together,
 * and the flexible power still available (what the controllable loads draw
 * plus what the battery could feed).
 */
export function siteMeasurements(
  snapshot: SiteSnapshot,
  opts: { staleAfterMs: number; batteryId?: string; batteryMaxDischargeW?: number },
): VenMeasurements & { readonly evsesW: number; readonly v2gW: number } {
  const now = snapshot.ts;
  let evsesW = 0;
  let v2gW = 0;
  for (const e of snapshot.evses) {
    if (!e.powerW || !isFresh(e.powerW, now, opts.staleAfterMs)) continue;
    evsesW += e.powerW.value;
    if (e.bidirectional) v2gW += e.powerW.value;
  }
  const b = snapshot.battery.powerW;
  const batteryW = b && isFresh(b, now, opts.staleAfterMs) ? b.value : undefined;
  const grid = snapshot.grid.powerW;
  const resources: Record<string, number> = { v2g: v2gW };
  if (batteryW !== undefined) resources[opts.batteryId ?? 'battery'] = batteryW;
  return {
    ...(grid && !snapshot.stale.includes('grid.powerW') ? { siteW: grid.value } : {}),
    flexibleW: Math.max(0, evsesW) + Math.max(0, batteryW ?? 0) + (opts.batteryMaxDischargeW ?? 0),
    resources,
    evsesW,
    v2gW,
  };
}

/**
 * What the site would draw without any cap: the measured non-controllable
 * load plus every plugged-in session at its charger's maximum. OSCP uses it
 * to ask the capacity provider for more (AdjustGroupCapacityForecast).
 */
export function siteDemandW(snapshot: SiteSnapshot, opts: { staleAfterMs: number }): number | undefined {
  const grid = snapshot.grid.powerW;
  if (!grid || snapshot.stale.includes('grid.powerW')) return undefined;
  const now = snapshot.ts;
  let evsesW = 0;
  let wantW = 0;
  for (const e of snapshot.evses) {
    if (e.powerW && isFresh(e.powerW, now, opts.staleAfterMs)) evsesW += e.powerW.value;
    if (e.status === 'Charging' || e.status === 'SuspendedEVSE' || e.status === 'Preparing') {
      wantW += e.maxCurrentA * (e.vehiclePhases ?? e.phases) * e.voltageV;
    }
  }
  const b = snapshot.battery.powerW;
  const batteryW = b && isFresh(b, now, opts.staleAfterMs) ? b.value : 0;
  return Math.max(0, grid.value - evsesW - batteryW) + wantW;
}
