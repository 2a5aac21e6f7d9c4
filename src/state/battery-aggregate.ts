import type { BatteryState } from '../model/site.js';
import type { Reading } from '../model/reading.js';

type Key = keyof BatteryState;

/** The device a partial battery update came from (its readings carry their source). */
export function batterySource(p: Partial<BatteryState>): string {
  for (const r of Object.values(p) as Array<Reading<number> | undefined>) if (r?.source) return r.source;
  return 'battery';
}

function combine(
  units: readonly BatteryState[],
  key: Key,
  fold: (values: number[]) => number,
): Reading<number> | undefined {
  const rs = units.map((u) => u[key]).filter((r): r is Reading<number> => r !== undefined);
  if (rs.length === 0) return undefined;
  const worst = rs.some((r) => r.quality === 'bad') ? 'bad' : rs.some((r) => r.quality === 'stale') ? 'stale' : 'good';
  // The aggregate is only as fresh as its oldest part, so staleness is never hidden.
  return {
    value: fold(rs.map((r) => r.value)),
    ts: Math.min(...rs.map((r) => r.ts)),
    source: 'batteries',
    quality: worst,
  };
}

const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);

/**
 * A site with several battery units (e.g. a SunSpec inverter battery and an
 * OPC UA BMS) is one battery to the site-level policies: power and power
 * limits add up, SoC is the mean of the units, the worst temperature and
 * SoH count, alarms are OR-ed. Each unit stays addressable as
 * `battery:<device id>` for set-points, and visible in `SiteSnapshot.batteries`.
 */
export function aggregateBatteries(units: ReadonlyMap<string, BatteryState>): BatteryState {
  const list = [...units.values()];
  if (list.length <= 1) return list[0] ?? {};
  const out: Partial<Record<Key, Reading<number>>> = {
    powerW: combine(list, 'powerW', sum),
    socPct: combine(list, 'socPct', (v) => sum(v) / v.length),
    sohPct: combine(list, 'sohPct', (v) => Math.min(...v)),
    cellTempMinC: combine(list, 'cellTempMinC', (v) => Math.min(...v)),
    cellTempMaxC: combine(list, 'cellTempMaxC', (v) => Math.max(...v)),
    maxChargePowerW: combine(list, 'maxChargePowerW', sum),
    maxDischargePowerW: combine(list, 'maxDischargePowerW', sum),
    alarms: combine(list, 'alarms', (v) => v.reduce((a, b) => a | b, 0)),
  };
  for (const k of Object.keys(out) as Key[]) if (out[k] === undefined) delete out[k];
  return out as BatteryState;
}
