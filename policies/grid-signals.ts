import type { Decision, Limit, Reason } from '../src/model/decision.js';
import { isFresh } from '../src/model/reading.js';
import type { GridSignalsInput } from '../src/model/grid-signals.js';
import { SESSION_STATUSES, type SiteSnapshot } from '../src/model/site.js';

export type { ActiveGridSignal, GridSignalsInput } from '../src/model/grid-signals.js';

export const EMPTY_GRID_INPUT: GridSignalsInput = {
  importLimits: [],
  exportLimits: [],
  siteLimitW: Number.POSITIVE_INFINITY,
  marginW: 0,
  floorPerDeviceW: 4200,
  staleAfterMs: 10_000,
  simpleLevelFactors: [1, 0.75, 0.5, 0],
};

interface Cap {
  readonly importW?: number;
  readonly exportW?: number;
  readonly text: string;
}

/**
 * Grid-operator tier: turn the active DR signals into import and export
 * caps for every controllable load (chargers and battery), net of what the
 * non-controllable loads take, never below the legal floor per device.
 * One limit per signal so the arbiter keeps the binding one and shows the
 * others; each reason names the event behind it.
 */
export function decide(snapshot: SiteSnapshot, input: GridSignalsInput, now: number): Decision {
  const caps: Cap[] = [];
  for (const s of input.importLimits)
    caps.push({ importW: s.value, text: `import limit ${kw(s.value)} from ${s.label}` });
  for (const s of input.exportLimits)
    caps.push({ exportW: s.value, text: `export limit ${kw(s.value)} from ${s.label}` });
  if (input.setpoint) {
    const sp = input.setpoint;
    caps.push({ importW: Math.max(0, sp.value), text: `dispatch set-point ${kw(sp.value)} from ${sp.label}` });
  }
  if (input.simple && input.simple.value > 0) {
    const level = Math.min(3, Math.max(0, Math.round(input.simple.value)));
    const factor = input.simpleLevelFactors[level] ?? 1;
    if (factor < 1 && Number.isFinite(input.siteLimitW)) {
      caps.push({
        importW: input.siteLimitW * factor,
        text: `SIMPLE level ${level} (${Math.round(factor * 100)} % of site limit) from ${input.simple.label}`,
      });
    }
  }
  if (input.fallback) {
    caps.push({
      importW: input.fallback.importLimitW,
      ...(input.fallback.exportLimitW !== undefined ? { exportW: input.fallback.exportLimitW } : {}),
      text: `fallback limit ${kw(input.fallback.importLimitW)}: ${input.fallback.why}`,
    });
  }
  if (caps.length === 0) return { limits: [], requests: [] };

  const grid = snapshot.grid.powerW;
  const meterOk = grid !== undefined && !snapshot.stale.includes('grid.powerW');
  let evseW = 0;
  let sessions = 0;
  let floorTotalW = 0;
  for (const e of snapshot.evses) {
    if (e.powerW && isFresh(e.powerW, now, input.staleAfterMs)) evseW += e.powerW.value;
    if (SESSION_STATUSES.has(e.status)) {
      sessions++;
      const deviceMaxW = e.maxCurrentA * (e.vehiclePhases ?? e.phases) * e.voltageV;
      floorTotalW += Math.min(input.floorPerDeviceW, deviceMaxW);
    }
  }
  const battery = snapshot.battery.powerW;
  const batteryW =
    input.batteryId !== undefined && battery && isFresh(battery, now, input.staleAfterMs) ? battery.value : 0;
  // Without a fresh meter the other loads are unknown; the failsafe (safety tier) takes over, we only keep the raw caps.
  const otherW = meterOk ? grid.value - evseW - batteryW : 0;

  const limits: Limit[] = [];
  for (const cap of caps) {
    const reason = (text: string): Reason => ({ policy: 'grid-signals', tier: 'grid', text });
    limits.push({
      scope: 'site',
      ...(cap.importW !== undefined ? { maxImportW: cap.importW } : {}),
      ...(cap.exportW !== undefined ? { maxExportW: cap.exportW } : {}),
      reason: reason(cap.text),
    });
    let evseImport: number | undefined;
    let evseText = cap.text;
    let budgetW = 0;
    if (cap.importW !== undefined) {
      budgetW = cap.importW - input.marginW - otherW;
      evseImport = Math.max(0, budgetW);
      evseText = `${cap.text}, less ${kw(input.marginW)} margin and ${kw(otherW)} other load leaves ${kw(evseImport)} for charging`;
      if (floorTotalW > evseImport) {
        evseImport = floorTotalW;
        evseText += `; raised to the legal floor ${kw(input.floorPerDeviceW)} x ${sessions} session(s)`;
      }
    }
    const evseExport = cap.exportW !== undefined ? Math.max(0, cap.exportW + otherW) : undefined;
    limits.push({
      scope: 'evses',
      ...(evseImport !== undefined ? { maxImportW: evseImport } : {}),
      ...(evseExport !== undefined ? { maxExportW: evseExport } : {}),
      reason: reason(evseText),
    });
    if (input.batteryId !== undefined) {
      const batteryImport =
        cap.importW !== undefined
          ? Math.max(input.floorPerDeviceW, budgetW - Math.max(0, Math.max(evseW, floorTotalW)))
          : undefined;
      limits.push({
        scope: `battery:${input.batteryId}`,
        ...(batteryImport !== undefined ? { maxImportW: batteryImport } : {}),
        ...(evseExport !== undefined ? { maxExportW: evseExport } : {}),
        reason: reason(
          batteryImport !== undefined
            ? `${cap.text}; battery may charge ${kw(batteryImport)} (floor ${kw(input.floorPerDeviceW)})`
            : cap.text,
        ),
      });
    }
  }
  return { limits, requests: [] };
}

function kw(w: number): string {
  return `${(w / 1000).toFixed(1)} kW`;
}
