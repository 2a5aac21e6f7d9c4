import { describe, expect, it } from 'vitest';
import { capacityAt, planNow } from '../../../policies/fleet-plan.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 5, 16);

describe('policies/fleet-plan', () => {
  it('asks now for what the power left during an import limit ahead cannot take', () => {
    // 40 kWh by 23:00; from 17:00 the limit leaves 5 kW for charging: 30 kWh fit after it, 10 kWh must come first.
    const plan = planNow(
      [{ id: 'v', departureAt: T0 + 7 * H, remainingWh: 40_000, maxW: 22_080 }],
      { ceilingW: 100_000, reservedW: 20_000, windows: [{ start: T0 + H, end: T0 + 7 * H, importLimitW: 25_000 }] },
      T0,
    ).get('v');
    expect(plan?.untilMs).toBe(T0 + H);
    expect(plan?.mustWh).toBeCloseTo(10_000, 3);
    expect(plan?.mustW).toBeCloseTo(10_000, 3);
    expect(plan?.late).toBe(false);
  });

  it('without a change ahead, the plan for now is the average to departure', () => {
    const plan = planNow(
      [{ id: 'v', departureAt: T0 + 7 * H, remainingWh: 40_000, maxW: 22_080 }],
      { ceilingW: 100_000, reservedW: 20_000, windows: [] },
      T0,
    ).get('v');
    expect(plan?.untilMs).toBe(T0 + 7 * H);
    expect(plan?.mustW).toBeCloseTo(40_000 / 7, 6);
  });

  it('asks nothing now of a vehicle whose energy fits after the next departure', () => {
    const plan = planNow(
      [
        { id: 'early', departureAt: T0 + H, remainingWh: 5_000, maxW: 11_000 },
        { id: 'late', departureAt: T0 + 7 * H, remainingWh: 20_000, maxW: 11_000 },
      ],
      { ceilingW: 100_000, reservedW: 20_000, windows: [] },
      T0,
    );
    expect(plan.get('late')?.mustWh).toBe(0);
    expect(plan.get('early')?.mustW).toBeCloseTo(5_000, 6);
  });

  it('shares a crowded later period so that both vehicles keep the same time at full power for now', () => {
    // 10 kWh fit in the last hour; A needs 10, B 5 kWh, both at most 11 kW: 2.5 kWh each are left for now.
    const plan = planNow(
      [
        { id: 'a', departureAt: T0 + 2 * H, remainingWh: 10_000, maxW: 11_000 },
        { id: 'b', departureAt: T0 + 2 * H, remainingWh: 5_000, maxW: 11_000 },
      ],
      { ceilingW: 30_000, reservedW: 20_000, windows: [{ start: T0 + H, end: T0 + 2 * H, importLimitW: 30_000 }] },
      T0,
    );
    expect(plan.get('a')?.mustWh).toBeCloseTo(2_500, 0);
    expect(plan.get('b')?.mustWh).toBeCloseTo(2_500, 0);
  });

  it('derates the capacity and the vehicles to come, so the plan keeps a reserve', () => {
    const plan = planNow(
      [{ id: 'v', departureAt: T0 + 7 * H, remainingWh: 40_000, maxW: 22_080 }],
      { ceilingW: 100_000, reservedW: 20_000, windows: [{ start: T0 + H, end: T0 + 7 * H, importLimitW: 25_000 }] },
      T0,
      0.5,
    ).get('v');
    // Half of 30 kWh is counted on after 17:00.
    expect(plan?.mustWh).toBeCloseTo(25_000, 3);
    expect(plan?.late).toBe(true);
    expect(plan?.mustW).toBe(22_080);
  });

  it('capacity is the tightest known limit less the other load, never negative', () => {
    const c = { ceilingW: 100_000, reservedW: 30_000, windows: [{ start: T0, end: T0 + H, importLimitW: 20_000 }] };
    expect(capacityAt(c, T0 - 1)).toBe(70_000);
    expect(capacityAt(c, T0)).toBe(0);
    expect(capacityAt(c, T0 + H)).toBe(70_000);
  });
});
