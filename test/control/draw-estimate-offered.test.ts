import { describe, expect, it } from 'vitest';
import { DrawEstimator } from '../../src/control/draw-estimate.js';
import { evse, snap, sp } from './draw-estimate-fixtures.js';

/**
 * The set-point in force goes out with each session in the snapshot the policies see (`offered`):
 * the fleet policy learns from it what a vehicle draws at most of what it is offered.
 */
describe('draw estimate: the set-point in force on each session', () => {
  it('is absent before the first set-point, then the last one and since when, kept while it does not change', () => {
    const d = new DrawEstimator({ freshMs: 12_500 });
    const at = (now: number) => snap(now, 30_000, [evse('A/1', { w: 11_000, ts: now })]);
    expect(d.apply(at(1000), 1000).evses[0]?.offered).toBeUndefined();
    d.record([sp('A/1', 32)], at(1000), 1000);
    const first = d.apply(at(2000), 2000).evses[0]?.offered;
    expect(first).toEqual({ currentA: 32, phases: 3, since: 1000 });
    // The same set-point again keeps its time (and its object).
    d.record([sp('A/1', 32)], at(2000), 2000);
    expect(d.apply(at(3000), 3000).evses[0]?.offered).toBe(first);
    d.record([sp('A/1', 20)], at(3000), 3000);
    expect(d.apply(at(4000), 4000).evses[0]?.offered).toEqual({ currentA: 20, phases: 3, since: 3000 });
  });

  it('is not carried over into the next session on the same EVSE', () => {
    const d = new DrawEstimator({ freshMs: 12_500 });
    d.record([sp('A/1', 32)], snap(1000, 30_000, [evse('A/1', { w: 11_000, ts: 1000 })]), 1000);
    const next = { ...evse('A/1', { w: 11_000, ts: 2000 }), sessionId: 'next-tx', sessionStart: 2000 };
    expect(d.apply(snap(2000, 30_000, [next]), 2000).evses[0]?.offered).toBeUndefined();
  });
});
