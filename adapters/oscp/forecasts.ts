import type { GridSignal } from '../../src/model/grid.js';
import { blockToW, type ForecastType, type GroupCapacityForecast } from './messages.js';

export type Forecasts = Partial<Record<ForecastType, GroupCapacityForecast>>;

/**
 * The grid signals the capacity provider's forecasts stand for: CONSUMPTION
 * blocks are import limits, GENERATION blocks export limits; while the
 * capacity provider is offline the FALLBACK_* blocks are the ones in force.
 */
export function forecastSignals(
  forecasts: Forecasts,
  o: { offline: boolean; voltageV: number; source: string; now: number },
): GridSignal[] {
  const pick: Array<[ForecastType, 'importLimit' | 'exportLimit']> = o.offline
    ? [
        ['FALLBACK_CONSUMPTION', 'importLimit'],
        ['FALLBACK_GENERATION', 'exportLimit'],
      ]
    : [
        ['CONSUMPTION', 'importLimit'],
        ['GENERATION', 'exportLimit'],
      ];
  const signals: GridSignal[] = [];
  for (const [type, kind] of pick) {
    const f = forecasts[type];
    if (!f) continue;
    f.forecasted_blocks.forEach((b, i) => {
      const w = blockToW(b, o.voltageV);
      if (w === undefined) return;
      signals.push({
        kind,
        value: Math.max(0, w),
        source: o.source,
        eventId: `${f.group_id}-${type.toLowerCase()}-${i}`,
        eventName: `${type} ${f.group_id}`,
        start: Date.parse(b.start_time),
        end: Date.parse(b.end_time),
        receivedAt: o.now,
      });
    });
  }
  return signals;
}
