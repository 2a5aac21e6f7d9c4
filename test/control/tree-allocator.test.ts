import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildCircuitTree, type CircuitTree, siteMask } from '../../src/control/circuit-tree.js';
import type { AllocatorState, TreeAllocatorOptions } from '../../src/control/tree-allocator.js';
import { allocateRound } from './allocate.js';
import type { Limit, PowerRequest, Setpoint } from '../../src/model/decision.js';
import { reading } from '../../src/model/reading.js';
import { type EvseState, type PhaseRotation, ROTATION } from '../../src/model/site.js';
import { chargingEvse } from '../helpers/evse.js';

const NOW = Date.UTC(2026, 0, 1, 20);
// Hysteresis and the overdraw reserved for unknown vehicles off: these tests look at the sharing itself.
const FREE: TreeAllocatorOptions = {
  rampUpAPerS: 1000,
  deadbandA: 0,
  minOffMs: 0,
  minOnMs: 0,
  assumedOverdrawA: 0,
  reservePct: 0,
};

function evse(id: string, over: Partial<EvseState> = {}): EvseState {
  return chargingEvse(id, { protocol: 'sim', sessionStart: NOW - 3_600_000, ...over });
}

function run(
  tree: CircuitTree,
  evses: EvseState[],
  limits: Limit[] = [],
  requests: PowerRequest[] = [],
  options: TreeAllocatorOptions = FREE,
  state?: AllocatorState,
  now = NOW,
) {
  return allocateRound({ tree, evses, limits, requests, options, state, now });
}

const byId = (sps: readonly Setpoint[]) => new Map(sps.map((s) => [s.evseId, s]));

describe('circuit-tree allocator', () => {
  it('shares a feeder fairly and never exceeds its per-phase fuse', () => {
    const tree = buildCircuitTree({ fuseA: 100, circuits: [{ id: 'f1', parent: 'site', maxCurrentA: 40 }] });
    const evs = ['a', 'b', 'c'].map((x) => evse(`${x}/1`, { circuitId: 'f1' }));
    const sp = run(tree, evs).setpoints;
    // 40 A in three on the 0.1 A grid: the remainder goes to the last one, the fuse is used, never exceeded.
    expect(sp.map((s) => s.currentA)).toEqual([13.3, 13.3, 13.4]);
    expect(sp.reduce((a, s) => a + s.currentA, 0)).toBeLessThanOrEqual(40 + 1e-9);
    expect(sp[0]?.reasons[0]?.text).toMatch(/circuit f1 fuse 40 A/);
  });

  it('never cuts a third car below its minimum when two could give', () => {
    const tree = buildCircuitTree({ fuseA: 18.5, circuits: [] });
    const evs = ['a', 'b', 'c'].map((x) => evse(`${x}/1`));
    const sp = run(tree, evs).setpoints;
    expect(sp.map((s) => s.currentA)).toEqual([6.1, 6.2, 6.2]);
    expect(sp.reduce((a, s) => a + s.currentA, 0)).toBeLessThanOrEqual(18.5);
  });

  it('pauses the lowest priority, latest arrival when the minimums do not fit', () => {
    const tree = buildCircuitTree({ fuseA: 16, circuits: [] });
    const evs = [
      evse('a/1', { priority: 0, sessionStart: NOW - 100 }),
      evse('b/1', { priority: 1, sessionStart: NOW - 50 }),
      evse('c/1', { priority: 0, sessionStart: NOW - 200 }),
    ];
    const sp = byId(run(tree, evs).setpoints);
    expect(sp.get('b/1')?.currentA).toBe(8);
    expect(sp.get('c/1')?.currentA).toBe(8);
    expect(sp.get('a/1')?.currentA).toBe(0);
    expect(
      sp
        .get('a/1')
        ?.reasons.map((r) => r.text)
        .join(' | '),
    ).toMatch(/fuse 16 A.*paused: minimum/);
  });

  it('uses phase rotation: three 1-phase cars on rotated chargers each get a full phase', () => {
    const tree = buildCircuitTree({ fuseA: 20, circuits: [] });
    const rot: PhaseRotation[] = ['L1L2L3', 'L2L3L1', 'L3L1L2'];
    const evs = rot.map((r, i) => evse(`c${i}/1`, { phaseRotation: r, vehiclePhases: 1 }));
    const sp = run(tree, evs).setpoints;
    expect(sp.map((s) => s.currentA)).toEqual([20, 20, 20]);
    expect(sp.every((s) => s.phases === 1)).toBe(true);
  });

  it("takes a vehicle's phases from the draw estimate (vehiclePhases), not from one reading of its currents", () => {
    // One fresh reading on L1 only may be a vehicle ramping up on three: the draw estimate believes
    // fewer phases only once the charger has offered three long enough. The allocator counted it as
    // 1-phase at once (and kept that count for the session); now it waits for the estimate.
    const tree = buildCircuitTree({ fuseA: 20, circuits: [] });
    const first = run(tree, [evse('a/1'), evse('b/1', { phaseRotation: 'L2L3L1' })]);
    expect(first.setpoints[0]?.phases).toBe(3);
    const measured = [
      evse('a/1', { currentsA: reading([10, 0, 0] as const, NOW + 1000, 'a') }),
      evse('b/1', { phaseRotation: 'L2L3L1', currentsA: reading([10, 0, 0] as const, NOW + 1000, 'b') }),
    ];
    const second = run(tree, measured, [], [], FREE, first.state, NOW + 1000);
    expect(second.setpoints.map((s) => [s.phases, s.currentA])).toEqual([
      [3, 10],
      [3, 10],
    ]);
    const learnt = measured.map((e) => ({ ...e, vehiclePhases: 1 as const }));
    const third = run(tree, learnt, [], [], FREE, second.state, NOW + 2000);
    expect(third.setpoints.map((s) => [s.phases, s.currentA])).toEqual([
      [1, 20],
      [1, 20],
    ]);
  });

  it('allocates a 2-phase vehicle on the two site phases it draws on: the third stays free for others', () => {
    // 20 A fuse. a/1's vehicle draws on its charger's L1 and L2 (site L1, L2); b/1's 1-phase vehicle
    // sits on site L3 (its charger's L1 there). Allocated on three, a/1 took half of L3 from b/1.
    const tree = buildCircuitTree({ fuseA: 20, circuits: [] });
    const a = evse('a/1', { vehiclePhases: 2 });
    const b = evse('b/1', { vehiclePhases: 1, phaseRotation: 'L3L1L2' });
    const sp = byId(run(tree, [a, b]).setpoints);
    expect(sp.get('a/1')).toMatchObject({ currentA: 20, phases: 3, powerW: 20 * 2 * 230 });
    expect(sp.get('b/1')).toMatchObject({ currentA: 20, phases: 1, powerW: 20 * 230 });
    // Through the rotation: on a charger turned L2L3L1 its L1 and L2 are site L2 and L3, shared with b/1.
    const turned = byId(run(tree, [{ ...a, phaseRotation: 'L2L3L1' }, b]).setpoints);
    expect((turned.get('a/1')?.currentA ?? 0) + (turned.get('b/1')?.currentA ?? 0)).toBeCloseTo(20, 5);
  });

  it('a power budget counts a 2-phase vehicle at set-point × 2 phases', () => {
    const tree = buildCircuitTree({ fuseA: 63, circuits: [] });
    const limits: Limit[] = [
      { scope: 'evses', maxImportW: 16 * 2 * 230, reason: { policy: 'lm', tier: 'contract', text: 'budget' } },
    ];
    const sp = run(tree, [evse('a/1', { vehiclePhases: 2, maxCurrentA: 32 })], limits).setpoints;
    expect(sp[0]).toMatchObject({ currentA: 16, phases: 3, powerW: 16 * 2 * 230 });
  });

  it('serves requests in tier order: a fleet request is not held back by an optimisation limit', () => {
    const tree = buildCircuitTree({ fuseA: 63, circuits: [] });
    const limits: Limit[] = [
      { scope: 'evses', maxImportW: 0, reason: { policy: 'solar', tier: 'optimisation', text: 'no solar surplus' } },
    ];
    const requests: PowerRequest[] = [
      { target: 'evse:a/1', powerW: 11_040, reason: { policy: 'fleet', tier: 'fleet', text: 'departure 06:00' } },
    ];
    const sp = byId(run(tree, [evse('a/1'), evse('b/1')], limits, requests).setpoints);
    expect(sp.get('a/1')?.currentA).toBe(16);
    expect(sp.get('b/1')?.currentA).toBe(0);
    expect(sp.get('b/1')?.reasons[0]?.text).toBe('no solar surplus');
  });

  it('serves an optimisation request before capacity nobody asked for', () => {
    // 20 A to share: the session that asked for 16 A (optimisation tier, e.g. a vehicle still short of
    // its energy) gets it, the one that asked for nothing keeps its minimum.
    const tree = buildCircuitTree({ fuseA: 22, circuits: [] });
    const requests: PowerRequest[] = [
      {
        target: 'evse:a/1',
        powerW: 11_040,
        reason: { policy: 'fleet-deadlines', tier: 'optimisation', text: 'ahead' },
      },
    ];
    const sp = byId(run(tree, [evse('a/1'), evse('b/1')], [], requests).setpoints);
    expect(sp.get('a/1')?.currentA).toBe(16);
    expect(sp.get('b/1')?.currentA).toBe(6);
    expect(sp.get('a/1')?.reasons.map((r) => r.text)).toContain('ahead');
  });

  it('a contract limit binds every tier and is named as the binding reason', () => {
    const tree = buildCircuitTree({ circuits: [] });
    const limits: Limit[] = [
      { scope: 'evses', maxImportW: 8280, reason: { policy: 'load-management', tier: 'contract', text: 'site limit' } },
    ];
    const requests: PowerRequest[] = [
      { target: 'evse:a/1', powerW: 22_000, reason: { policy: 'fleet', tier: 'fleet', text: 'urgent' } },
    ];
    const sp = byId(run(tree, [evse('a/1'), evse('b/1')], limits, requests).setpoints);
    expect((sp.get('a/1')?.currentA ?? 0) + (sp.get('b/1')?.currentA ?? 0)).toBeCloseTo(12, 5);
    expect(sp.get('a/1')?.reasons[0]?.policy).toBe('load-management');
  });

  it('per-phase node limits from a policy (fuse less measured other load)', () => {
    const tree = buildCircuitTree({ fuseA: 63, circuits: [] });
    const limits: Limit[] = [
      {
        scope: 'node:site',
        maxPhaseCurrentsA: [10, 30, 30],
        reason: { policy: 'load-management', tier: 'safety', text: 'L1 loaded' },
      },
    ];
    const sp = run(
      tree,
      [evse('a/1', { vehiclePhases: 1 }), evse('b/1', { vehiclePhases: 1, phaseRotation: 'L2L3L1' })],
      limits,
    ).setpoints;
    expect(sp.map((s) => s.currentA)).toEqual([10, 30]);
  });

  it('hysteresis: fast down, slow up, min-off', () => {
    const tree = buildCircuitTree({ fuseA: 32, circuits: [] });
    const opts: TreeAllocatorOptions = {
      rampUpAPerS: 2,
      deadbandA: 0.5,
      minOffMs: 60_000,
      minOnMs: 0,
      assumedOverdrawA: 0,
    };
    let r = run(tree, [evse('a/1')], [], [], opts);
    expect(r.setpoints[0]?.currentA).toBe(8); // start at min + one ramp step
    r = run(tree, [evse('a/1')], [], [], opts, r.state, NOW + 1000);
    expect(r.setpoints[0]?.currentA).toBe(10);
    const low: Limit[] = [{ scope: 'evses', maxImportW: 0, reason: { policy: 't', tier: 'contract', text: 'zero' } }];
    r = run(tree, [evse('a/1')], low, [], opts, r.state, NOW + 2000);
    expect(r.setpoints[0]?.currentA).toBe(0);
    r = run(tree, [evse('a/1')], [], [], opts, r.state, NOW + 30_000);
    expect(r.setpoints[0]?.currentA).toBe(0);
    expect(r.setpoints[0]?.reasons[0]?.text).toMatch(/minimum off time/);
    r = run(tree, [evse('a/1')], [], [], opts, r.state, NOW + 63_000);
    expect(r.setpoints[0]?.currentA).toBe(8);
  });

  it('dead-band down: a limit wiggling by less than the reserve leaves the set-points alone, a real drop does not', () => {
    const tree = buildCircuitTree({ circuits: [] });
    const opts = { ...FREE, deadbandA: 0.5, reservePct: 2 };
    const budget = (w: number): Limit[] => [
      { scope: 'evses', maxImportW: w, reason: { policy: 'lm', tier: 'contract', text: `${w} W` } },
    ];
    let r = run(tree, [evse('a/1'), evse('b/1')], budget(20_000), [], opts);
    const first = r.setpoints.map((s) => s.currentA);
    expect(first[0]! * 2 * 690).toBeLessThanOrEqual(20_000 * 0.98 + 1e-6);
    r = run(tree, [evse('a/1'), evse('b/1')], budget(19_800), [], opts, r.state, NOW + 1000);
    expect(r.setpoints.map((s) => s.currentA)).toEqual(first);
    r = run(tree, [evse('a/1'), evse('b/1')], budget(15_000), [], opts, r.state, NOW + 2000);
    const dropped = r.setpoints.map((s) => s.currentA);
    expect(dropped[0]! * 2 * 690).toBeLessThanOrEqual(15_000);
    expect(dropped[0]).toBeLessThan(first[0]!);
  });

  it('holds an increase until the decreased vehicle has followed', () => {
    const tree = buildCircuitTree({ fuseA: 32, circuits: [] });
    let r = run(tree, [evse('a/1')]);
    expect(r.setpoints[0]?.currentA).toBe(32);
    // b arrives: a must come down to 16 at once, b may only start once a draws less.
    const a = (measured: number, ts: number) =>
      evse('a/1', { currentsA: reading([measured, measured, measured] as const, ts, 'a') });
    r = run(tree, [a(32, NOW + 900), evse('b/1')], [], [], FREE, r.state, NOW + 1000);
    expect(byId(r.setpoints).get('a/1')?.currentA).toBe(16);
    expect(byId(r.setpoints).get('b/1')?.currentA).toBe(0);
    expect(byId(r.setpoints).get('b/1')?.reasons[0]?.text).toMatch(/held/);
    r = run(tree, [a(32, NOW + 1900), evse('b/1')], [], [], FREE, r.state, NOW + 2000);
    expect(byId(r.setpoints).get('b/1')?.currentA).toBe(0);
    r = run(tree, [a(16, NOW + 4900), evse('b/1')], [], [], FREE, r.state, NOW + 5000);
    expect(byId(r.setpoints).get('b/1')?.currentA).toBe(16);
  });

  it('learns overdraw and reserves it', () => {
    const tree = buildCircuitTree({ fuseA: 32, circuits: [] });
    let r = run(tree, [evse('a/1'), evse('b/1')]);
    expect(r.setpoints.map((s) => s.currentA)).toEqual([16, 16]);
    const over = evse('a/1', { currentsA: reading([17.5, 17.5, 17.5] as const, NOW + 20_000, 'a') });
    r = run(tree, [over, evse('b/1')], [], [], FREE, r.state, NOW + 20_000);
    const a = r.setpoints[0]?.currentA ?? 0;
    const b = r.setpoints[1]?.currentA ?? 0;
    expect(a + 1.5 + b).toBeLessThanOrEqual(32 + 1e-9);
  });

  it('reserves a default overdraw for a vehicle until it has shown that it follows its set-point', () => {
    const tree = buildCircuitTree({ fuseA: 32, circuits: [] });
    const opts = { ...FREE, assumedOverdrawA: 1.5 };
    let r = run(tree, [evse('a/1'), evse('b/1')], [], [], opts);
    expect(r.setpoints.map((s) => s.currentA)).toEqual([14.5, 14.5]);
    const follows = (id: string) => evse(id, { currentsA: reading([14.5, 14.5, 14.5] as const, NOW + 5000, id) });
    r = run(tree, [follows('a/1'), follows('b/1')], [], [], opts, r.state, NOW + 5000);
    expect(r.setpoints.map((s) => s.currentA)).toEqual([16, 16]);
  });

  it('switches a switchable charger to one phase when three do not fit', () => {
    const tree = buildCircuitTree({ fuseA: 16, circuits: [] });
    const opts = { ...FREE, phaseSwitchable: new Set(['b']) };
    const a = evse('a/1', { priority: 1, vehiclePhases: 1, minCurrentA: 12, maxCurrentA: 12 });
    const b = evse('b/1', { phaseRotation: 'L2L3L1' });
    const sp = byId(run(tree, [a, b], [], [], opts).setpoints);
    expect(sp.get('a/1')?.currentA).toBe(12);
    expect(sp.get('b/1')?.phases).toBe(1);
    expect(sp.get('b/1')?.currentA).toBe(16);
    // Without switching b cannot charge at all.
    const fixed = byId(run(tree, [a, b]).setpoints);
    expect(fixed.get('b/1')?.currentA).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties over random trees and sessions.

interface World {
  circuits: Array<{ id: string; parent: string; maxCurrentA: number; maxPowerW?: number }>;
  fuseA: number;
  evses: EvseState[];
  budgetW?: number;
}

const rotations: PhaseRotation[] = ['L1L2L3', 'L2L3L1', 'L3L1L2', 'L1L3L2', 'L3L2L1', 'L2L1L3'];

const worldArb: fc.Arbitrary<World> = fc
  .record({
    fuseA: fc.integer({ min: 10, max: 400 }),
    nodes: fc.array(
      fc.record({
        parentPick: fc.nat(),
        maxCurrentA: fc.integer({ min: 6, max: 250 }),
        power: fc.option(fc.integer({ min: 2000, max: 150_000 }), { nil: undefined }),
      }),
      { maxLength: 8 },
    ),
    evses: fc.array(
      fc.record({
        nodePick: fc.nat(),
        rot: fc.constantFrom(...rotations),
        phases: fc.constantFrom<1 | 3>(1, 3, 3),
        vehiclePhases: fc.option(fc.constantFrom<1 | 2 | 3>(1, 2, 3), { nil: undefined }),
        maxCurrentA: fc.integer({ min: 6, max: 32 }),
        minCurrentA: fc.constantFrom(6, 6, 8),
        priority: fc.integer({ min: 0, max: 2 }),
        start: fc.integer({ min: 0, max: 10_000 }),
      }),
      { maxLength: 25 },
    ),
    budgetW: fc.option(fc.integer({ min: 0, max: 200_000 }), { nil: undefined }),
  })
  .map(({ fuseA, nodes, evses, budgetW }) => {
    const circuits: World['circuits'] = [];
    nodes.forEach((n, i) => {
      const parents = ['site', ...circuits.map((c) => c.id)];
      circuits.push({
        id: `n${i}`,
        parent: parents[n.parentPick % parents.length] as string,
        maxCurrentA: n.maxCurrentA,
        ...(n.power !== undefined ? { maxPowerW: n.power } : {}),
      });
    });
    const ids = ['site', ...circuits.map((c) => c.id)];
    return {
      fuseA,
      circuits,
      ...(budgetW !== undefined ? { budgetW } : {}),
      evses: evses.map((e, i) =>
        evse(`cp${i}/1`, {
          circuitId: ids[e.nodePick % ids.length] as string,
          phaseRotation: e.rot,
          phases: e.phases,
          ...(e.vehiclePhases ? { vehiclePhases: e.vehiclePhases } : {}),
          maxCurrentA: Math.max(e.maxCurrentA, e.minCurrentA),
          minCurrentA: e.minCurrentA,
          priority: e.priority,
          sessionStart: NOW - e.start,
        }),
      ),
    };
  });

function loads(world: World, tree: CircuitTree, sps: readonly Setpoint[]) {
  const perNode = new Map<string, { phase: [number, number, number]; powerW: number }>();
  for (const id of tree.nodes.keys()) perNode.set(id, { phase: [0, 0, 0], powerW: 0 });
  const spById = byId(sps);
  let totalW = 0;
  for (const e of world.evses) {
    const sp = spById.get(e.id);
    if (!sp || sp.currentA === 0) continue;
    // A 2-phase vehicle offered three phases draws on the charger's L1 and L2 only.
    const mask =
      sp.phases === 3 && e.vehiclePhases === 2
        ? [0, 1, 2].map((p) => ROTATION[e.phaseRotation][0] === p || ROTATION[e.phaseRotation][1] === p)
        : siteMask(e.phaseRotation, sp.phases);
    totalW += sp.powerW;
    for (const n of tree.pathOf(e.circuitId)) {
      const l = perNode.get(n) as { phase: [number, number, number]; powerW: number };
      for (let p = 0; p < 3; p++) if (mask[p]) l.phase[p] = (l.phase[p] as number) + sp.currentA;
      l.powerW += sp.powerW;
    }
  }
  return { perNode, totalW };
}

function limitsOf(world: World): Limit[] {
  return world.budgetW !== undefined
    ? [{ scope: 'evses', maxImportW: world.budgetW, reason: { policy: 'lm', tier: 'contract', text: 'budget' } }]
    : [];
}

describe('allocator properties', () => {
  it('never exceeds any node limit, respects every minimum and maximum', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        const tree = buildCircuitTree({ fuseA: world.fuseA, circuits: world.circuits });
        const { setpoints } = run(tree, world.evses, limitsOf(world));
        const { perNode, totalW } = loads(world, tree, setpoints);
        for (const [id, l] of perNode) {
          const node = tree.nodes.get(id);
          if (!node) continue;
          for (let p = 0; p < 3; p++)
            expect(l.phase[p]).toBeLessThanOrEqual((node.maxPhaseCurrentsA[p] as number) + 1e-6);
          if (node.maxPowerW !== undefined) expect(l.powerW).toBeLessThanOrEqual(node.maxPowerW + 1e-6);
        }
        if (world.budgetW !== undefined) expect(totalW).toBeLessThanOrEqual(world.budgetW + 1e-6);
        const spById = byId(setpoints);
        for (const e of world.evses) {
          const sp = spById.get(e.id) as Setpoint;
          expect(sp.reasons.length).toBeGreaterThan(0);
          if (sp.currentA > 0) {
            expect(sp.currentA).toBeGreaterThanOrEqual(e.minCurrentA - 1e-9);
            expect(sp.currentA).toBeLessThanOrEqual(e.maxCurrentA + 1e-9);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('with the default hysteresis (ramps, dead-band, reserve, holds) no round ever exceeds a limit', () => {
    fc.assert(
      fc.property(
        worldArb,
        fc.array(fc.integer({ min: 0, max: 200_000 }), { minLength: 2, maxLength: 6 }),
        (world, budgets) => {
          const tree = buildCircuitTree({ fuseA: world.fuseA, circuits: world.circuits });
          let state: AllocatorState | undefined;
          budgets.forEach((b, i) => {
            const limits: Limit[] = [
              { scope: 'evses', maxImportW: b, reason: { policy: 'lm', tier: 'contract', text: 'b' } },
            ];
            const r = run(tree, world.evses, limits, [], {}, state, NOW + i * 1000);
            state = r.state;
            const { perNode, totalW } = loads(world, tree, r.setpoints);
            expect(totalW).toBeLessThanOrEqual(b + 1e-6);
            for (const [id, l] of perNode) {
              const node = tree.nodes.get(id)!;
              for (let p = 0; p < 3; p++)
                expect(l.phase[p]).toBeLessThanOrEqual((node.maxPhaseCurrentsA[p] as number) + 1e-6);
            }
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('pauses nobody when all minimums fit', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        const tree = buildCircuitTree({ fuseA: world.fuseA, circuits: world.circuits });
        // Sum of minimums at the phases the allocator will assume (vehicle phases, else charger phases).
        const mins = loads(
          world,
          tree,
          world.evses.map((e) => {
            const ph = e.phases === 1 ? 1 : (e.vehiclePhases ?? 3);
            const offered = ph === 1 ? 1 : 3;
            return {
              evseId: e.id,
              currentA: e.minCurrentA,
              powerW: e.minCurrentA * ph * 230,
              phases: offered,
              reasons: [],
            };
          }),
        );
        const fits =
          [...mins.perNode].every(([id, l]) => {
            const n = tree.nodes.get(id);
            return (
              n !== undefined &&
              l.phase.every((v, p) => v <= (n.maxPhaseCurrentsA[p] as number)) &&
              (n.maxPowerW === undefined || l.powerW <= n.maxPowerW)
            );
          }) &&
          (world.budgetW === undefined || mins.totalW <= world.budgetW);
        fc.pre(fits);
        const { setpoints } = run(tree, world.evses, limitsOf(world));
        for (const sp of setpoints) expect(sp.currentA).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });

  it('is fair: equal sessions on the same node and phases get equal current', () => {
    fc.assert(
      fc.property(worldArb, fc.integer({ min: 2, max: 6 }), (world, copies) => {
        const tree = buildCircuitTree({ fuseA: world.fuseA, circuits: world.circuits });
        const twins = Array.from({ length: copies }, (_, i) =>
          evse(`twin${i}/1`, { circuitId: world.circuits[0]?.id ?? 'site', sessionStart: NOW - 5 }),
        );
        const all = [...world.evses, ...twins];
        const sp = byId(run(tree, all, limitsOf(world)).setpoints);
        const on = twins.map((t) => sp.get(t.id)?.currentA ?? 0).filter((a) => a > 0);
        if (on.length > 1) expect(Math.max(...on) - Math.min(...on)).toBeLessThanOrEqual(0.1 + 1e-9);
      }),
      { numRuns: 300 },
    );
  });
});
