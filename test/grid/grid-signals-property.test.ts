import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, EMPTY_GRID_INPUT } from '../../policies/grid-signals.js';
import { mergeLimits } from '../../src/control/arbiter.js';
import { evse, snapshot } from './helpers.js';

const NOW = Date.UTC(2026, 0, 1, 18);

describe('policies/grid-signals properties', () => {
  it('never cuts below the legal floor, never grants more than the cap leaves, always names an event', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 22_000 }), { minLength: 0, maxLength: 12 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.array(fc.integer({ min: 0, max: 200_000 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 6000 }),
        (evsePowers, baseW, caps, marginW, floorW) => {
          const evses = evsePowers.map((p, i) => evse(`E${i}/1`, p, NOW));
          const gridW = baseW + evsePowers.reduce((s, p) => s + p, 0);
          const d = decide(
            snapshot(NOW, gridW, evses),
            {
              ...EMPTY_GRID_INPUT,
              marginW,
              floorPerDeviceW: floorW,
              importLimits: caps.map((c, i) => ({
                value: c,
                source: 'http',
                eventId: `e${i}`,
                label: `http event (e${i})`,
              })),
            },
            NOW,
          );
          const merged = mergeLimits(d.limits).get('evses');
          const floorTotal = evses.length * Math.min(floorW, 32 * 3 * 230);
          const capLeft = Math.max(0, Math.min(...caps) - marginW - baseW);
          expect(merged?.maxImportW).toBe(Math.max(capLeft, floorTotal));
          expect(merged?.reasons[0]?.tier).toBe('grid');
          expect(merged?.reasons[0]?.text).toMatch(/http event \(e\d\)/);
        },
      ),
      { numRuns: 300 },
    );
  });
});
