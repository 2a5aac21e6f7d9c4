import { describe, expect, it } from 'vitest';
import { buildCircuitTree, type CircuitTree } from '../../src/control/circuit-tree.js';
import type { AllocatorState, TreeAllocatorOptions } from '../../src/control/tree-allocator.js';
import { allocateRound } from './allocate.js';
import type { Limit, PowerRequest, Setpoint, Tier } from '../../src/model/decision.js';
import type { EvseState } from '../../src/model/site.js';
import { chargingEvse } from '../helpers/evse.js';

const NOW = Date.UTC(2026, 0, 5, 19, 15);
const OPTS: TreeAllocatorOptions = { rampUpAPerS: 1000, assumedOverdrawA: 0, minOffMs: 0, minOnMs: 0 };

function evse(id: string, over: Partial<EvseState> = {}): EvseState {
  return chargingEvse(id, { maxCurrentA: 16, bidirectional: true, sessionStart: NOW - 3_600_000, ...over });
}

const feed = (id: string, w: number, tier: Tier = 'grid'): PowerRequest => ({
  target: `evse:${id}`,
  powerW: -w,
  reason: { policy: 'vpp-dispatch', tier, text: `V2G feeds ${w} W` },
});

function run(
  tree: CircuitTree,
  evses: EvseState[],
  limits: Limit[],
  requests: PowerRequest[],
  state?: AllocatorState,
  now = NOW,
) {
  return allocateRound({ tree, evses, limits, requests, options: OPTS, state, now });
}

const byId = (sps: readonly Setpoint[]) => new Map(sps.map((s) => [s.evseId, s]));
const site = buildCircuitTree({ fuseA: 63, circuits: [] });

describe('tree allocator: V2G feed-in', () => {
  it('a feed-in request on a bidirectional EVSE becomes a signed set-point with its reason', () => {
    const sp = byId(run(site, [evse('v/1')], [], [feed('v/1', 7000)]).setpoints).get('v/1');
    expect(sp?.powerW).toBe(-7000);
    expect(sp?.currentA).toBeCloseTo(-10.1, 5); // 7000 W / 690 W/A, rounded towards zero
    expect(sp?.phases).toBe(3);
    expect(sp?.reasons[0]?.text).toBe('V2G feeds 7000 W');
  });

  it('is ignored for a unidirectional EVSE and for an EVSE without a session', () => {
    const r = run(
      site,
      [evse('u/1', { bidirectional: false }), evse('n/1', { status: 'Available' })],
      [],
      [feed('u/1', 7000), feed('n/1', 7000)],
    );
    for (const sp of r.setpoints) expect(sp.powerW).toBeGreaterThanOrEqual(0);
  });

  it('stays within the charger maximum and the feed-in caps on evses and site, sharing them in request order', () => {
    const limits: Limit[] = [
      { scope: 'evses', maxExportW: 15_000, reason: { policy: 'grid-signals', tier: 'grid', text: 'export 15 kW' } },
      { scope: 'site', maxExportW: 20_000, reason: { policy: 'grid-signals', tier: 'grid', text: 'export 20 kW' } },
    ];
    const r = run(site, [evse('a/1'), evse('b/1')], limits, [feed('a/1', 20_000), feed('b/1', 5000)]);
    const a = byId(r.setpoints).get('a/1');
    const b = byId(r.setpoints).get('b/1');
    expect(a?.powerW).toBe(-11_040); // 16 A x 3 x 230 V
    expect(a?.reasons[0]?.text).toBe('charger maximum 16 A');
    expect(a?.reasons.map((x) => x.text)).toContain('V2G feeds 20000 W');
    const total = -(a?.powerW ?? 0) - (b?.powerW ?? 0);
    expect(total).toBeLessThanOrEqual(15_000);
    expect(total).toBeGreaterThan(14_000);
    expect(b?.reasons[0]?.text).toBe('export 15 kW');
  });

  it('feed-in current loads the circuit: it stays within the feeder fuse and leaves only the rest to charging', () => {
    const tree = buildCircuitTree({ fuseA: 63, circuits: [{ id: 'f1', parent: 'site', maxCurrentA: 20 }] });
    const r = run(
      tree,
      [evse('v/1', { circuitId: 'f1' }), evse('c/1', { circuitId: 'f1', bidirectional: false })],
      [],
      [feed('v/1', 11_000)],
    );
    const v = byId(r.setpoints).get('v/1');
    const c = byId(r.setpoints).get('c/1');
    expect(v?.currentA).toBeLessThanOrEqual(-15);
    expect(-(v?.currentA ?? 0) + (c?.currentA ?? 0)).toBeLessThanOrEqual(20);
    expect(c?.currentA).toBe(0); // 6 A minimum does not fit next to 16 A of feed-in
    const small = buildCircuitTree({ fuseA: 63, circuits: [{ id: 'f1', parent: 'site', maxCurrentA: 10 }] });
    const capped = byId(run(small, [evse('v/1', { circuitId: 'f1' })], [], [feed('v/1', 11_000)]).setpoints).get('v/1');
    expect(capped?.currentA).toBeGreaterThanOrEqual(-10);
    expect(capped?.currentA).toBeLessThan(-9);
    expect(capped?.reasons[0]?.text).toMatch(/circuit f1 fuse 10 A/);
  });

  it('an import cap neither blocks feed-in nor is credited with it', () => {
    const limits: Limit[] = [
      { scope: 'evses', maxImportW: 0, reason: { policy: 'grid-signals', tier: 'grid', text: 'no import' } },
    ];
    const r = run(site, [evse('v/1'), evse('c/1', { bidirectional: false })], limits, [feed('v/1', 7000)]);
    expect(byId(r.setpoints).get('v/1')?.powerW).toBe(-7000);
    expect(byId(r.setpoints).get('c/1')?.currentA).toBe(0);
  });

  it('the most important request decides the direction', () => {
    const charge: PowerRequest = {
      target: 'evse:v/1',
      powerW: 11_000,
      reason: { policy: 'fleet-deadlines', tier: 'fleet', text: 'deadline' },
    };
    const grid = run(site, [evse('v/1')], [], [charge, feed('v/1', 7000, 'grid')]).setpoints[0];
    expect(grid?.powerW).toBe(-7000);
    const market = run(site, [evse('v/1')], [], [charge, feed('v/1', 7000, 'optimisation')]).setpoints[0];
    expect(market?.powerW).toBeGreaterThan(0);
  });

  it('switching from charging to feed-in and back: the old current is held on the cable until the vehicle follows', () => {
    const tree = buildCircuitTree({ fuseA: 63, circuits: [{ id: 'f1', parent: 'site', maxCurrentA: 32 }] });
    const evs = [
      evse('v/1', { circuitId: 'f1' }),
      evse('c/1', { circuitId: 'f1', bidirectional: false, maxCurrentA: 32 }),
    ];
    let r = run(tree, evs, [], []);
    expect(r.setpoints.map((s) => s.currentA)).toEqual([15.8, 15.8]);
    // v now feeds 4 kW: it may still be drawing 15.8 A, so c must not take more yet.
    r = run(tree, evs, [], [feed('v/1', 4000)], r.state, NOW + 1000);
    expect(byId(r.setpoints).get('v/1')?.powerW).toBe(-4000);
    expect(byId(r.setpoints).get('c/1')?.currentA).toBeLessThanOrEqual(15.8);
    // Feed-in ends: v charges again from its minimum; its feed-in current still counts until it follows.
    r = run(tree, evs, [], [], r.state, NOW + 2000);
    const v = byId(r.setpoints).get('v/1');
    expect(v?.currentA).toBeGreaterThanOrEqual(0);
    expect((v?.currentA ?? 0) + (byId(r.setpoints).get('c/1')?.currentA ?? 0)).toBeLessThanOrEqual(32);
  });
});
