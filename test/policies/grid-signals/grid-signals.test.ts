import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decide, EMPTY_GRID_INPUT, type GridSignalsInput } from '../../../policies/grid-signals.js';
import { mergeLimits } from '../../../src/control/arbiter.js';
import type { EvseStatus } from '../../../src/model/site.js';
import { evse, snapshot } from '../../grid/helpers.js';

interface ExpectedLimit {
  scope: string;
  maxImportW?: number;
  maxExportW?: number;
  text?: string;
}
interface Fixture {
  description: string;
  gridW: number | null;
  evses: Array<{ id: string; powerW: number; status?: EvseStatus }>;
  input: Partial<GridSignalsInput>;
  expect?: ExpectedLimit[];
  merged?: ExpectedLimit;
}

const dir = import.meta.dirname;
const NOW = Date.UTC(2026, 0, 1, 18);

describe('policies/grid-signals fixtures', () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const fx = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Fixture;
    it(`${file}: ${fx.description}`, () => {
      const snap = snapshot(
        NOW,
        fx.gridW ?? undefined,
        fx.evses.map((e) => evse(e.id, e.powerW, NOW, e.status ? { status: e.status } : {})),
      );
      const input: GridSignalsInput = { ...EMPTY_GRID_INPUT, marginW: 500, ...fx.input };
      const d = decide(snap, input, NOW);
      expect(d.requests).toEqual([]);
      for (const want of fx.expect ?? []) {
        const got = d.limits.filter((l) => l.scope === want.scope);
        expect(got.length, `no limit on ${want.scope}`).toBeGreaterThan(0);
        const match = got.find(
          (l) =>
            (want.maxImportW === undefined || l.maxImportW === want.maxImportW) &&
            (want.maxExportW === undefined || l.maxExportW === want.maxExportW),
        );
        expect(match, `${want.scope}: ${JSON.stringify(got)}`).toBeDefined();
        expect(match?.reason.tier).toBe('grid');
        if (want.text) expect(match?.reason.text).toContain(want.text);
      }
      if (fx.merged) {
        const m = mergeLimits(d.limits).get(fx.merged.scope);
        expect(m?.maxImportW).toBe(fx.merged.maxImportW);
        if (fx.merged.text) expect(m?.reasons[0]?.text).toContain(fx.merged.text);
      }
    });
  }

  it('emits nothing without signals', () => {
    const d = decide(snapshot(NOW, 5000, []), EMPTY_GRID_INPUT, NOW);
    expect(d.limits).toEqual([]);
  });

  it('caps the battery as a controllable load with what the vehicles leave, no floor', () => {
    const snap = snapshot(NOW, 30_000, [evse('CP1/1', 11_000, NOW)]);
    const d = decide(
      snap,
      {
        ...EMPTY_GRID_INPUT,
        batteryId: 'bat',
        importLimits: [{ value: 15_000, source: 'http', eventId: 'e', label: 'http event (e)' }],
      },
      NOW,
    );
    const bat = d.limits.find((l) => l.scope === 'battery:bat');
    expect(bat?.maxImportW).toBe(0);
  });
});
