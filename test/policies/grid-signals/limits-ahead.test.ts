import { describe, expect, it } from 'vitest';
import { decide, EMPTY_GRID_INPUT, type GridSignalsInput, withLimitsAhead } from '../../../policies/grid-signals.js';
import { evse, snapshot } from '../../grid/helpers.js';

const NOW = Date.UTC(2026, 0, 5, 20, 29, 40);
const signal = (value: number, eventId: string) => ({
  value,
  source: 'openadr',
  eventId,
  label: `openadr event "${eventId}"`,
});

describe('grid-signals: import limits known ahead', () => {
  const now: GridSignalsInput = { ...EMPTY_GRID_INPUT, siteLimitW: 100_000, marginW: 500 };
  const in30s: GridSignalsInput = { ...now, importLimits: [signal(35_000, 'short-notice')] };

  it('applies a limit that starts within the lead time already, and says why', () => {
    const input = withLimitsAhead(now, in30s, 30_000);
    expect(input.importLimits).toHaveLength(1);
    const d = decide(snapshot(NOW, 60_000, [evse('A/1', 48_000, NOW)]), input, NOW);
    const site = d.limits.find((l) => l.scope === 'site');
    expect(site?.maxImportW).toBe(35_000);
    expect(site?.reason.text).toMatch(/applied 30 s before it starts/);
    // 35 kW less 0.5 kW margin and 12 kW other load.
    expect(d.limits.find((l) => l.scope === 'evses')?.maxImportW).toBe(22_500);
  });

  it('keeps an active limit that ends within the lead time until its end', () => {
    const active: GridSignalsInput = { ...now, importLimits: [signal(40_000, 'peak-3')] };
    const input = withLimitsAhead(active, now, 30_000);
    expect(input.importLimits.map((s) => s.value)).toEqual([40_000]);
  });

  it('adds nothing when the limit ahead is the one already active', () => {
    const active: GridSignalsInput = { ...now, importLimits: [signal(45_000, 'peak-2')] };
    expect(withLimitsAhead(active, active, 30_000)).toBe(active);
  });
});
