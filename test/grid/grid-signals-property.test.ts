import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, EMPTY_GRID_INPUT } from '../../policies/grid-signals.js';
import { mergeLimits } from '../../src/control/arbiter.js';
import { evse, snapshot } from './helpers.js';

const NOW = Date.UTC(2026, 0, 1, 18);

describe('policies/grid-signals properties', () => {
  it('grants exactly what the most restrictive cap leaves (no floor), never above the contract, always names an event', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 22_000 }), { minLength: 0, maxLength: 12 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.array(fc.integer({ min: 0, max: 200_000 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 10_000, max: 150_000 }),
        (evsePowers, baseW, caps, marginW, contractW) => {
          const evses = evsePowers.map((p, i) => evse(`E${i}/1`, p, NOW));
          const gridW = baseW + evsePowers.reduce((s, p) => s + p, 0);
          const d = decide(
            snapshot(NOW, gridW, evses),
            {
              ...EMPTY_GRID_INPUT,
              marginW,
              siteLimitW: contractW,
              importLimits: caps.map((c, i) => ({
                value: c,
                source: i % 2 ? 'oscp' : 'openadr',
                eventId: `e${i}`,
                label: `event (e${i})`,
              })),
            },
            NOW,
          );
          const merged = mergeLimits(d.limits);
          const capW = Math.min(...caps, contractW);
          expect(merged.get('evses')?.maxImportW).toBe(Math.max(0, capW - marginW - baseW));
          expect(merged.get('site')?.maxImportW).toBe(capW);
          expect(merged.get('site')?.maxImportW).toBeLessThanOrEqual(contractW);
          expect(merged.get('evses')?.reasons[0]?.tier).toBe('grid');
          expect(merged.get('evses')?.reasons[0]?.text).toMatch(/event \(e\d\)/);
        },
      ),
      { numRuns: 300 },
    );
  });
});
