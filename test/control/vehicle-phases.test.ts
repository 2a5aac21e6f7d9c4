import { describe, expect, it } from 'vitest';
import { DrawEstimator } from '../../src/control/draw-estimate.js';
import type { Setpoint } from '../../src/model/decision.js';
import { reading } from '../../src/model/reading.js';
import type { EvseState, PhaseValues, SiteSnapshot } from '../../src/model/site.js';
import { chargingEvse } from '../helpers/evse.js';
import { snap as snapOf } from './draw-estimate-fixtures.js';

/**
 * Issue 15 item 1: a vehicle that draws on 1 or 2 phases of a 3-phase charger is estimated (and
 * handed to the allocator) with the phases its per-phase Current.Import readings show, learnt per
 * session: set-point × its phases, not × 3.
 */

const V = 230;

/** A session on a 3-phase charger whose last per-phase reading (if any) is `currents` at `ts`. */
function ev(currents?: PhaseValues, ts = 1_000, session = 's1'): EvseState {
  return chargingEvse('CP1/1', {
    sessionId: session,
    sessionStart: session === 's1' ? 0 : 50_000,
    ...(currents ? { currentsA: reading(currents, ts, 'CP1') } : {}),
  });
}

const snap = (now: number, gridW: number, e: EvseState): SiteSnapshot => snapOf(now, gridW, [e]);

const sp = (a: number, phases: 1 | 3 = 3): Setpoint => ({
  evseId: 'CP1/1',
  currentA: a,
  powerW: a * phases * V,
  phases,
  reasons: [],
});

/** The estimator after a 16 A set-point at 0, then the vehicle's per-phase reading, 20 s later (past any delay). */
function learnt(currents: PhaseValues | undefined, gridW = 100_000) {
  const d = new DrawEstimator({ freshMs: 5_000 });
  d.record([sp(16)], snap(0, gridW, ev()), 0);
  const out = d.apply(snap(20_000, gridW, ev(currents)), 20_000);
  return { d, out, e: out.evses[0] as EvseState };
}

describe('vehicle phases learnt from per-phase readings', () => {
  it('a 1-phase vehicle on a 3-phase charger is estimated at set-point × 1 phase, and allocated on one', () => {
    // Its last reading (older than fresh) showed it on L1 only: 16 A × 230 V, not × 690 V.
    const { d, e } = learnt([16, 0, 0]);
    expect(e.powerW?.source).toBe('estimate');
    expect(e.powerW?.value).toBeCloseTo(16 * V);
    expect(e.vehiclePhases).toBe(1);
    expect(d.estimates()[0]).toMatchObject({ source: 'estimated', vehiclePhases: 1 });
  });

  it("a 2-phase vehicle on the charger's L1 and L2 is estimated at set-point × 2 phases, and allocated on two", () => {
    const { d, e } = learnt([16, 15.8, 0.2]);
    expect(e.powerW?.value).toBeCloseTo(16 * 2 * V);
    expect(e.vehiclePhases).toBe(2);
    expect(d.estimates()[0]?.vehiclePhases).toBe(2);
  });

  it('a 2-phase vehicle seen on another pair of terminals is estimated on two but allocated on three', () => {
    // The allocator reserves L1 and L2 for two phases: a vehicle on L2 and L3 would load L3 unreserved.
    for (const currents of [
      [0.1, 16, 15.9],
      [16, 0, 16],
    ] as const) {
      const { d, e } = learnt(currents);
      expect(e.powerW?.value).toBeCloseTo(16 * 2 * V);
      expect(e.vehiclePhases).toBe(3);
      expect(d.estimates()[0]?.vehiclePhases).toBe(2);
    }
  });

  it('a 2-phase vehicle seen once on L1-L2 and once on L2-L3 is allocated on three', () => {
    const { d } = learnt([16, 16, 0]);
    const out = d.apply(snap(25_000, 100_000, ev([0, 16, 16], 24_000)), 25_000);
    expect(out.evses[0]?.vehiclePhases).toBe(3);
    expect(out.evses[0]?.powerW?.value).toBeCloseTo(16 * 2 * V);
  });

  it('a 3-phase vehicle seen on two phases twice in a row goes down to two', () => {
    const { d } = learnt([16, 16, 16]);
    d.apply(snap(25_000, 100_000, ev([16, 16, 0], 24_000)), 25_000);
    const two = d.apply(snap(30_000, 100_000, ev([16, 16, 0], 29_000)), 30_000);
    expect(two.evses[0]?.vehiclePhases).toBe(2);
    expect(two.evses[0]?.powerW?.value).toBeCloseTo(16 * 2 * V);
  });

  it('without a per-phase reading, or one too small to tell, the vehicle is taken on all the phases offered', () => {
    expect(learnt(undefined).e.powerW?.value).toBeCloseTo(16 * 3 * V);
    const low = learnt([1.5, 0, 0]);
    expect(low.e.powerW?.value).toBeCloseTo(16 * 3 * V);
    expect(low.e.vehiclePhases).toBeUndefined();
  });

  it('re-learns when the vehicle starts drawing on more phases, at once', () => {
    const { d } = learnt([16, 0, 0]);
    const out = d.apply(snap(25_000, 100_000, ev([16, 16, 16], 24_000)), 25_000);
    expect(out.evses[0]?.vehiclePhases).toBe(3);
    expect(out.evses[0]?.powerW?.value).toBeCloseTo(16 * 3 * V);
  });

  it('believes fewer phases only from two readings in a row', () => {
    const { d } = learnt([16, 16, 16]);
    const one = d.apply(snap(25_000, 100_000, ev([16, 0, 0], 24_000)), 25_000);
    expect(one.evses[0]?.powerW?.value).toBeCloseTo(16 * 3 * V);
    const two = d.apply(snap(30_000, 100_000, ev([16, 0, 0], 29_000)), 30_000);
    expect(two.evses[0]?.powerW?.value).toBeCloseTo(16 * V);
    expect(two.evses[0]?.vehiclePhases).toBe(1);
  });

  it('re-learns for a new session: the next vehicle starts on all phases', () => {
    const { d } = learnt([16, 0, 0]);
    // The next vehicle plugs in; its charger's last reading is still the old session's.
    const next = ev([16, 0, 0], 1_000, 's2');
    d.record([sp(16)], snap(60_000, 100_000, next), 60_000);
    const out = d.apply(snap(80_000, 100_000, next), 80_000);
    expect(out.evses[0]?.powerW?.value).toBeCloseTo(16 * 3 * V);
    expect(out.evses[0]?.vehiclePhases).toBeUndefined();
  });

  it('a charger switched to one phase by the gateway teaches nothing about a fewer-phase vehicle', () => {
    const d = new DrawEstimator({ freshMs: 5_000 });
    d.record([sp(16, 1)], snap(0, 100_000, ev()), 0);
    const out = d.apply(snap(20_000, 100_000, ev([16, 0, 0], 19_000)), 20_000);
    expect(out.evses[0]?.vehiclePhases).toBeUndefined();
    expect(out.evses[0]?.powerW?.value).toBeCloseTo(16 * V);
    // Offered three phases again, its vehicle takes them: it is a 3-phase vehicle.
    d.record([sp(16, 3)], snap(20_000, 100_000, ev()), 20_000);
    const three = d.apply(snap(40_000, 100_000, ev([16, 16, 16], 39_000)), 40_000);
    expect(three.evses[0]?.vehiclePhases).toBe(3);
  });
});
