import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildCircuitTree } from '../../src/control/circuit-tree.js';
import type { AllocatorState, TreeAllocatorOptions } from '../../src/control/tree-allocator.js';
import { allocateRound } from './allocate.js';
import type { Limit, PowerRequest, Setpoint, Tier } from '../../src/model/decision.js';
import { reading } from '../../src/model/reading.js';
import type { EvseState, PhaseValues } from '../../src/model/site.js';
import { chargingEvse } from '../helpers/evse.js';

const NOW = Date.UTC(2026, 0, 5, 19);

function evse(id: string, measuredA?: number, ts = NOW): EvseState {
  return chargingEvse(id, {
    protocol: 'sim',
    maxCurrentA: 16,
    sessionStart: NOW - 3_600_000,
    ...(measuredA !== undefined ? { currentsA: reading([measuredA, measuredA, measuredA] as const, ts, id) } : {}),
  });
}

const evsesLimit = (w: number, tier: Tier = 'contract'): Limit => ({
  scope: 'evses',
  maxImportW: w,
  reason: { policy: 'load-management', tier, text: `${w} W for charging` },
});

const request = (id: string, w: number, tier: Tier): PowerRequest => ({
  target: `evse:${id}`,
  powerW: w,
  reason: { policy: 'vpp-dispatch', tier, text: `take ${w} W` },
});

function round(
  evses: EvseState[],
  limits: Limit[],
  requests: PowerRequest[],
  now: number,
  state?: AllocatorState,
  options: TreeAllocatorOptions = {},
) {
  return allocateRound({
    tree: buildCircuitTree({ fuseA: 63, circuits: [] }),
    evses,
    limits,
    requests,
    options,
    state,
    now,
  });
}

const totalW = (sps: readonly Setpoint[]) => sps.reduce((s, p) => s + Math.max(0, p.powerW), 0);

describe('tree allocator: the set-points never exceed a limit, whatever the vehicles draw', () => {
  it('a limit drop under a grid-tier request with vehicles that have not followed yet (grid engineer report)', () => {
    // Two vehicles run at 10 A (6.9 kW each) under a roomy limit.
    let r = round([evse('a/1'), evse('b/1')], [evsesLimit(14_600)], [], NOW);
    for (let i = 1; i <= 10; i++) {
      const a = r.setpoints.map((s) => s.currentA);
      const at = NOW + i * 1000;
      r = round([evse('a/1', a[0], at), evse('b/1', a[1], at)], [evsesLimit(14_600)], [], at, r.state);
    }
    for (const sp of r.setpoints) expect(sp.currentA).toBeGreaterThanOrEqual(10);
    // The charging budget falls to 10 kW while a VPP dispatch asks both to take more; their measured
    // draw (6.9 kW each) has not followed anything yet.
    const t = NOW + 11_000;
    const vpp = [request('a/1', 11_000, 'grid'), request('b/1', 11_000, 'grid')];
    for (let i = 0; i < 5; i++) {
      r = round(
        [evse('a/1', 10, t - 1000), evse('b/1', 10, t - 1000)],
        [evsesLimit(10_000)],
        vpp,
        t + i * 1000,
        r.state,
      );
      expect(totalW(r.setpoints)).toBeLessThanOrEqual(10_000);
      for (const sp of r.setpoints) expect(sp.reasons.map((x) => x.text).join(' | ')).not.toMatch(/increase held/);
    }
  });

  it('the limit of every tier up to contract binds requests of every tier', () => {
    const r = round([evse('a/1'), evse('b/1')], [evsesLimit(9_000)], [request('a/1', 11_000, 'grid')], NOW, undefined, {
      rampUpAPerS: 1000,
      assumedOverdrawA: 0,
    });
    expect(totalW(r.setpoints)).toBeLessThanOrEqual(9_000);
    expect(r.setpoints[0]?.reasons.map((x) => x.text)).toContain('9000 W for charging');
  });
});

describe('tree allocator property: limits hold whatever the vehicles draw and whatever is requested', () => {
  it('no round exceeds a safety, grid or contract limit, with vehicles that follow late or never', () => {
    const vehicle = fc.record({
      measuredA: fc.option(fc.integer({ min: 0, max: 20 })),
      onePhase: fc.boolean(),
      requestW: fc.option(fc.integer({ min: 0, max: 12_000 })),
      requestTier: fc.constantFrom<Tier>('grid', 'fleet', 'optimisation'),
    });
    const step = fc.record({
      limitW: fc.integer({ min: 0, max: 40_000 }),
      dtMs: fc.integer({ min: 100, max: 40_000 }),
      vehicles: fc.array(vehicle, { minLength: 3, maxLength: 3 }),
    });
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 2, maxLength: 10 }),
        fc.constantFrom<Tier>('safety', 'grid', 'contract'),
        (steps, tier) => {
          let state: AllocatorState | undefined;
          let now = NOW;
          for (const s of steps) {
            now += s.dtMs;
            const ids = ['a/1', 'b/1', 'c/1'];
            const evses = ids.map((id, j) => {
              const v = s.vehicles[j];
              const m = v?.measuredA ?? undefined;
              const e = evse(id);
              return m === undefined
                ? e
                : { ...e, currentsA: reading((v?.onePhase ? [m, 0, 0] : [m, m, m]) as PhaseValues, now - 100, id) };
            });
            const requests = s.vehicles.flatMap((v, j) =>
              v.requestW === null ? [] : [request(ids[j] as string, v.requestW, v.requestTier)],
            );
            const r = round(evses, [evsesLimit(s.limitW, tier)], requests, now, state);
            state = r.state;
            expect(totalW(r.setpoints)).toBeLessThanOrEqual(s.limitW + 1e-6);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
