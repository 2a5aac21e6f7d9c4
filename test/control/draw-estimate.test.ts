import { describe, expect, it } from 'vitest';
import { DrawEstimator } from '../../src/control/draw-estimate.js';
import { reading } from '../../src/model/reading.js';
import { evse, snap, sp, V } from './draw-estimate-fixtures.js';

describe('DrawEstimator', () => {
  it('counts an unconfirmed charger at its set-point, not as building load', () => {
    const d = new DrawEstimator({ freshMs: 15_000 });
    const e = evse('CP1/1', { w: 0, ts: -60_000 }); // factory default: last reading a minute old
    d.record([sp('CP1/1', 16)], snap(0, 0, [e]), 0);
    // 20 s later (past any response delay) the vehicle is taken to draw its 16 A, nothing reported.
    const out = d.apply(snap(20_000, 50_000, [e]), 20_000);
    expect(out.evses[0]?.powerW?.value).toBeCloseTo(16 * 3 * V);
    expect(out.evses[0]?.powerW?.source).toBe('estimate');
    expect(d.estimates()[0]).toMatchObject({ source: 'estimated', uncertaintyW: 0 });
  });

  it('while an increase may still be on its way, takes the vehicle at its old set-point whatever the meter shows', () => {
    const d = new DrawEstimator({ freshMs: 15_000 });
    const e = evse('CP1/1');
    d.record([sp('CP1/1', 10)], snap(0, 0, [e]), 0);
    const chargingW = 10 * 3 * V;
    d.apply(snap(20_000, 40_000 + chargingW, [e]), 20_000);
    d.record([sp('CP1/1', 20)], snap(20_000, 40_000 + chargingW, [e]), 20_000);
    // 2 s later the meter rose by what the increase would add: the vehicle following, or a building
    // step with the vehicle still to follow. Safe only as the latter: the rise is building load.
    const now = 22_000;
    const out = d.apply(snap(now, 40_000 + 20 * 3 * V, [e]), now);
    expect(out.evses[0]?.powerW?.value).toBeCloseTo(chargingW);
    expect(d.estimates()[0]?.uncertaintyW).toBeCloseTo(10 * 3 * V);
    // The same meter gives the same estimate (no memory feeding back into the set-points).
    const again = d.apply(snap(now + 500, 40_000 + 20 * 3 * V, [e]), now + 500);
    expect(again.evses[0]?.powerW?.value).toBeCloseTo(chargingW);
    // Once the (unlearnt, 11 s) delay has passed the vehicle is taken at its new set-point.
    const settled = d.apply(snap(32_000, 40_000 + 20 * 3 * V, [e]), 32_000);
    expect(settled.evses[0]?.powerW?.value).toBeCloseTo(20 * 3 * V);
  });

  it('before a first set-point takes nothing for sure, and never more than the meter shows (building >= -PV)', () => {
    const d = new DrawEstimator({ freshMs: 15_000 });
    const a = evse('CP1/1');
    const b = evse('CP2/1');
    d.record([sp('CP1/1', 10), sp('CP2/1', 10)], snap(0, 4_000, [a, b]), 0);
    // The vehicles may still draw anything up to the 32 A the chargers offered: lowest 0.
    const early = d.apply(snap(1_000, 4_000, [a, b]), 1_000);
    expect(early.evses.map((e) => e.powerW?.value)).toEqual([0, 0]);
    // Past the delay each is taken at 10 A (6.9 kW), but the meter shows 4 kW: together at most 4 kW.
    const late = d.apply(snap(20_000, 4_000, [a, b]), 20_000);
    expect(late.evses.reduce((s, e) => s + (e.powerW?.value ?? 0), 0)).toBeCloseTo(4_000);
    // With 3 kW of PV on site the building may feed in 3 kW: at most 7 kW.
    const pv = { ...snap(20_000, 4_000, [a, b]), pv: { powerW: reading(3_000, 20_000, 'pv') } };
    const withPv = d.apply(pv, 20_000);
    expect(withPv.evses.reduce((s, e) => s + (e.powerW?.value ?? 0), 0)).toBeCloseTo(7_000);
  });

  it('uses a fresh reading taken after the vehicle followed, and learns the vehicle is quick', () => {
    const d = new DrawEstimator({ freshMs: 15_000 });
    d.record([sp('CP1/1', 10)], snap(0, 0, [evse('CP1/1')]), 0);
    d.apply(snap(20_000, 40_000, [evse('CP1/1')]), 20_000);
    d.record([sp('CP1/1', 20)], snap(20_000, 40_000, [evse('CP1/1')]), 20_000);
    const measured = evse('CP1/1', { w: 20 * 3 * V, ts: 20_500 });
    const out = d.apply(snap(21_000, 60_000, [measured]), 21_000);
    expect(out.evses[0]?.powerW?.source).toBe('CP1/1');
    expect(d.estimates()[0]?.source).toBe('measured');
    // Next change: learnt delay 0.5 s, so 1 s later the vehicle is taken to be on its new set-point.
    d.record([sp('CP1/1', 8)], snap(30_000, 60_000, [measured]), 30_000);
    const later = d.apply(snap(31_000, 60_000, [evse('CP1/1')]), 31_000);
    expect(later.evses[0]?.powerW?.value).toBeCloseTo(8 * 3 * V);
  });

  /** A vehicle seen following within 0.5 s: set-point 10 A at 0, its reading at 500 ms shows it on 10 A. */
  function quick(): DrawEstimator {
    const d = new DrawEstimator({ freshMs: 15_000 });
    d.record([sp('CP1/1', 10)], snap(0, 0, [evse('CP1/1')]), 0);
    const on10 = evse('CP1/1', { w: 10 * 3 * V, ts: 500 });
    d.apply(snap(600, 40_000 + 10 * 3 * V, [on10]), 600);
    return d;
  }

  it("a meter rise that a learnt vehicle's increase explains, in its follow window, is the vehicle following", () => {
    const d = quick();
    const old = evse('CP1/1', { w: 10 * 3 * V, ts: 9_000 });
    d.apply(snap(9_500, 40_000 + 10 * 3 * V, [old]), 9_500);
    d.record([sp('CP1/1', 20)], snap(9_500, 40_000 + 10 * 3 * V, [old]), 10_000);
    // 300 ms later the meter shows the 10 A more: the building is as it was (40 kW), the vehicle on 20 A.
    const out = d.apply(snap(10_300, 40_000 + 20 * 3 * V, [old]), 10_300);
    expect(out.evses[0]?.powerW?.value).toBeCloseTo(20 * 3 * V, 0);
    expect(d.estimates()[0]).toMatchObject({ source: 'estimated', delayMs: 500 });
  });

  it('a meter rise beyond what the vehicles can explain is building load, all of it, at once', () => {
    const d = quick();
    const old = evse('CP1/1', { w: 10 * 3 * V, ts: 9_000 });
    d.apply(snap(9_500, 40_000 + 10 * 3 * V, [old]), 9_500);
    d.record([sp('CP1/1', 20)], snap(9_500, 40_000 + 10 * 3 * V, [old]), 10_000);
    // +30 kW while the increase adds 6.9 kW: the building moved; the vehicle is taken not to have followed.
    const out = d.apply(snap(10_300, 70_000 + 10 * 3 * V, [old]), 10_300);
    expect(out.evses[0]?.powerW?.value).toBeCloseTo(10 * 3 * V, 0);
  });

  it('before its learnt delay a vehicle has not followed: its reading stays the draw; a slow one is learnt slow', () => {
    const d = new DrawEstimator({ freshMs: 15_000 });
    d.record([sp('CP1/1', 10)], snap(0, 0, [evse('CP1/1')]), 0);
    d.apply(snap(20_000, 50_000, [evse('CP1/1', { w: 10 * 3 * V, ts: 19_000 })]), 20_000);
    d.record([sp('CP1/1', 20)], snap(20_000, 50_000, [evse('CP1/1')]), 20_000);
    // Still on 10 A 4.5 s after the change, on 20 A at 25.5 s: it takes 4.5-5.5 s.
    d.apply(snap(24_600, 50_000, [evse('CP1/1', { w: 10 * 3 * V, ts: 24_500 })]), 24_600);
    d.apply(snap(25_600, 56_900, [evse('CP1/1', { w: 20 * 3 * V, ts: 25_500 })]), 25_600);
    d.record([sp('CP1/1', 8)], snap(30_000, 56_900, [evse('CP1/1')]), 30_000);
    // 3 s after the next change its last reading (20 A, taken after the change) is still the draw.
    const early = d.apply(snap(33_000, 56_900, [evse('CP1/1', { w: 20 * 3 * V, ts: 32_500 })]), 33_000);
    expect(early.evses[0]?.powerW?.value).toBeCloseTo(20 * 3 * V, 0);
    expect(d.estimates()[0]?.source).toBe('measured');
    // Past the window (change + 5.5 s + jitter) it is on 8 A, whatever its older reading showed.
    const late = d.apply(snap(36_500, 43_100 + 8 * 3 * V, [evse('CP1/1', { w: 20 * 3 * V, ts: 32_500 })]), 36_500);
    expect(late.evses[0]?.powerW?.value).toBeCloseTo(8 * 3 * V, 0);
  });

  it('a decrease not yet confirmed keeps the vehicle at its old set-point (the allocator holds it reserved)', () => {
    const d = new DrawEstimator({ freshMs: 15_000 });
    const e = evse('CP1/1');
    d.record([sp('CP1/1', 20)], snap(0, 0, [e]), 0);
    d.apply(snap(20_000, 40_000 + 20 * 3 * V, [e]), 20_000);
    d.record([sp('CP1/1', 10)], snap(20_000, 40_000 + 20 * 3 * V, [e]), 20_000);
    const out = d.apply(snap(21_000, 40_000 + 20 * 3 * V, [e]), 21_000);
    expect(out.evses[0]?.powerW?.value).toBeCloseTo(20 * 3 * V);
    expect(d.estimates()[0]?.uncertaintyW).toBeCloseTo(10 * 3 * V);
  });
});
