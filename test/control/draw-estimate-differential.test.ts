import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DrawEstimator, type DrawEstimatorOptions } from '../../src/control/draw-estimate.js';
import { ReferenceDrawEstimator } from './draw-estimate-reference.js';
import type { Setpoint } from '../../src/model/decision.js';
import { type Quality, reading } from '../../src/model/reading.js';
import { type EvseState, type EvseStatus, SESSION_STATUSES, type SiteSnapshot } from '../../src/model/site.js';

/**
 * The draw estimate rewritten for speed must decide exactly as the one before it: both are driven
 * with the same random sequences of snapshots (readings fresh and old, per-phase currents, sessions
 * starting and stopping, EVSEs reordered or missing) and set-points (up, down, paused, feed-in,
 * phase switches, EVSEs not in the snapshot), and every output is compared deep-equal: apply's
 * snapshot (and whether it is the input itself), the estimates, the margin.
 */

const V = 230;
const STATUSES: readonly EvseStatus[] = [
  'Charging',
  'Charging',
  'Charging',
  'SuspendedEV',
  'SuspendedEVSE',
  'Preparing',
  'Available',
  'Finishing',
  'Offline',
];

interface EvseChange {
  readonly idx: number;
  readonly status?: EvseStatus;
  /** 1: a new session id and start; 2: the same id, a new start; 3: no id, a new start. */
  readonly newSession?: number;
  /** A power reading: `follow` = the last set-point's draw × `share`, else `w`. */
  readonly power?: {
    follow: boolean;
    share: number;
    w: number;
    lagMs: number;
    quality: Quality;
    estimate: boolean;
  };
  /** Per-phase currents: `pattern` picks which phases carry `a`. */
  readonly currents?: { pattern: number; a: number; lagMs: number; quality: Quality };
  readonly vehiclePhases?: 1 | 3 | 0;
}

interface SetpointGen {
  /** An index into the EVSEs, or past them: an id the snapshot does not have. */
  readonly idx: number;
  readonly a: number;
  readonly phases: 1 | 3;
  readonly feedIn: boolean;
}

interface Step {
  readonly dtMs: number;
  readonly grid?: { w: number; lagMs: number };
  readonly pvW?: number;
  readonly batteryW?: number;
  readonly changes: readonly EvseChange[];
  /** 0: a new list in spec order; 1: the previous list object again if nothing changed; 2: reversed; 3: one left out. */
  readonly listMode: number;
  readonly setpoints: readonly SetpointGen[];
}

interface Spec {
  readonly phases: 1 | 3;
  readonly maxA: number;
  readonly bidirectional: boolean;
}

const quality = fc.constantFrom<Quality>('good', 'good', 'good', 'good', 'stale', 'bad');
const amps = fc.oneof(fc.constantFrom(0, 6, 8, 10, 16, 16, 20, 32), fc.double({ min: 0, max: 32, noNaN: true }));
const specArb: fc.Arbitrary<Spec> = fc.record({
  phases: fc.constantFrom<1 | 3>(3, 3, 3, 1),
  maxA: fc.constantFrom(16, 32),
  bidirectional: fc.constantFrom(false, false, false, true),
});

/** `calm`: how much likelier a step without set-points is than one with. */
function stepArb(n: number, calm = 3): fc.Arbitrary<Step> {
  const change: fc.Arbitrary<EvseChange> = fc.record(
    {
      idx: fc.nat(n - 1),
      status: fc.constantFrom(...STATUSES),
      newSession: fc.constantFrom(0, 0, 0, 0, 0, 1, 1, 2, 3),
      power: fc.record({
        follow: fc.constantFrom(true, true, false),
        share: fc.constantFrom(1, 1, 1, 1 / 3, 2 / 3, 1.02),
        w: fc.double({ min: -5000, max: 25_000, noNaN: true }),
        lagMs: fc.constantFrom(0, 0, 200, 1500, 5000, 13_000, 60_000),
        quality,
        estimate: fc.constantFrom(false, false, false, true),
      }),
      currents: fc.record({ pattern: fc.nat(5), a: amps, lagMs: fc.constantFrom(0, 0, 500, 4000, 30_000), quality }),
      vehiclePhases: fc.constantFrom<1 | 3 | 0>(1, 3, 0),
    },
    { requiredKeys: ['idx'] },
  );
  return fc.record(
    {
      dtMs: fc.oneof(fc.constantFrom(0, 100, 250, 500, 1000, 1000, 2000), fc.nat(15_000)),
      grid: fc.record({
        w: fc.double({ min: -20_000, max: 200_000, noNaN: true }),
        lagMs: fc.constantFrom(0, 0, 300, 2000),
      }),
      pvW: fc.double({ min: -100, max: 50_000, noNaN: true }),
      batteryW: fc.double({ min: -20_000, max: 20_000, noNaN: true }),
      changes: fc.array(change, { maxLength: n + 2, size: 'medium' }),
      listMode: fc.constantFrom(0, 0, 0, 0, 0, 1, 1, 2, 3),
      // Mostly none: the margin is measured only while every draw is known (no change on its way).
      setpoints: fc.oneof(
        { arbitrary: fc.constant([]), weight: calm },
        {
          arbitrary: fc.array(
            fc.record({ idx: fc.nat(n), a: amps, phases: fc.constantFrom<1 | 3>(3, 3, 3, 1), feedIn: fc.boolean() }),
            { maxLength: n + 1, size: 'medium' },
          ),
          weight: 1,
        },
      ),
    },
    { requiredKeys: ['dtMs', 'changes', 'listMode', 'setpoints'] },
  );
}

const PATTERNS: ReadonlyArray<(a: number) => readonly [number, number, number]> = [
  (a) => [a, a, a],
  (a) => [a, 0, 0],
  (a) => [a, a, 0],
  (a) => [0, a, a],
  (a) => [a, 0.4 * a, 0.1],
  (a) => [a, 0.6 * a, 0.55 * a],
];

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** What the comparison covered, over all runs (a test that never reaches a branch proves nothing about it). */
const seen = {
  margin: 0,
  measured: 0,
  estimated: 0,
  learnt: 0,
  phases1: 0,
  phases3: 0,
  sameSnapshot: 0,
  reused: 0,
  copyAgain: 0,
  allocated2: 0,
};

function run(specs: readonly Spec[], steps: readonly Step[], o: DrawEstimatorOptions): void {
  const n = specs.length;
  const id = (i: number) => (i < n ? `CP${i}/1` : i === n ? 'battery:b1' : `CPX${i}/1`);
  const ref = new ReferenceDrawEstimator(o);
  const est = new DrawEstimator(o);
  let now = 1_000_000;
  let sessions = 0;
  const live: Array<Record<string, unknown>> = specs.map(() => ({ status: 'Available' }));
  const lastSp: Array<{ a: number; phases: number }> = specs.map(() => ({ a: 0, phases: 3 }));
  let list: readonly EvseState[] | undefined;
  let copies = new Set<EvseState>();
  for (const s of steps) {
    now += s.dtMs;
    for (const c of s.changes) {
      const l = { ...(live[c.idx] as Record<string, unknown>) };
      if (c.status) l.status = c.status;
      if (c.newSession || (l.sessionStart === undefined && c.status && SESSION_STATUSES.has(c.status))) {
        sessions++;
        if (c.newSession === 3) delete l.sessionId;
        else if (c.newSession !== 2 || l.sessionId === undefined) l.sessionId = `tx${sessions}`;
        l.sessionStart = now - (sessions % 3) * 1000;
      }
      const p = c.power;
      if (p) {
        const sp = lastSp[c.idx] as { a: number; phases: number };
        const w = p.follow ? sp.a * sp.phases * V * p.share : p.w;
        l.powerW = reading(w, now - p.lagMs, p.estimate ? 'estimate' : id(c.idx), p.quality);
      }
      const a = c.currents;
      if (a)
        l.currentsA = reading(
          (PATTERNS[a.pattern] as (a: number) => readonly number[])(a.a),
          now - a.lagMs,
          id(c.idx),
          a.quality,
        );
      if (c.vehiclePhases === 0) delete l.vehiclePhases;
      else if (c.vehiclePhases) l.vehiclePhases = c.vehiclePhases;
      live[c.idx] = l;
    }
    if (s.listMode === 1 && list && s.changes.length === 0) seen.reused++;
    else {
      let next: EvseState[] = specs.map(
        (sp, i) =>
          ({
            id: id(i),
            chargerId: `CP${i}`,
            connectorId: 1,
            protocol: 'ocpp',
            circuitId: 'site',
            phaseRotation: 'L1L2L3',
            phases: sp.phases,
            minCurrentA: 6,
            maxCurrentA: sp.maxA,
            voltageV: V,
            bidirectional: sp.bidirectional,
            priority: 0,
            ...live[i],
          }) as EvseState,
      );
      if (s.listMode === 2) next.reverse();
      if (s.listMode === 3) next = next.filter((_, i) => i !== s.dtMs % n);
      list = next;
    }
    const snap: SiteSnapshot = deepFreeze({
      ts: now,
      siteId: 's',
      grid: s.grid ? { powerW: reading(s.grid.w, now - s.grid.lagMs, 'meter') } : {},
      pv: s.pvW !== undefined ? { powerW: reading(s.pvW, now, 'pv') } : {},
      battery: s.batteryW !== undefined ? { powerW: reading(s.batteryW, now, 'bat') } : {},
      evses: list,
      devices: [],
      stale: [],
    });
    const outOld = ref.apply(snap, now);
    const outNew = est.apply(snap, now);
    expect(outNew).toStrictEqual(outOld);
    expect(outNew === snap).toBe(outOld === snap);
    expect(outNew.evses === snap.evses).toBe(outOld.evses === snap.evses);
    expect(est.estimates()).toStrictEqual(ref.estimates());
    expect(est.margin()).toStrictEqual(ref.margin());
    if (outOld === snap) seen.sameSnapshot++;
    // A copy the rewrite hands out again (same EVSE, same values) must still be what the reference makes anew.
    for (const e of outNew.evses) if (copies.has(e) && !snap.evses.includes(e)) seen.copyAgain++;
    copies = new Set(outNew.evses);
    if (ref.margin()) seen.margin++;
    for (const e of ref.estimates()) {
      seen[e.source]++;
      if (e.delayMs !== undefined) seen.learnt++;
      if (e.vehiclePhases === 1) seen.phases1++;
      if (e.vehiclePhases === 3) seen.phases3++;
    }
    for (const e of outOld.evses) if (e.vehiclePhases === 2) seen.allocated2++;
    const sps: Setpoint[] = s.setpoints.map((g) => {
      const currentA = g.feedIn && g.idx % 2 === 0 ? -g.a : g.a;
      if (g.idx < n) lastSp[g.idx] = { a: currentA, phases: g.phases };
      return { evseId: id(g.idx), currentA, powerW: currentA * g.phases * V, phases: g.phases, reasons: [] };
    });
    ref.record(sps, outOld, now);
    est.record(sps, outNew, now);
  }
}

describe('draw estimate: the rewrite for speed decides exactly as the one before it', () => {
  it('same snapshots, estimates and margin for random sequences of readings and set-points (few EVSEs, long runs)', () => {
    fc.assert(
      fc.property(
        fc
          .array(specArb, { minLength: 1, maxLength: 5 })
          .chain((specs) =>
            fc.tuple(
              fc.constant(specs),
              fc.array(stepArb(specs.length), { minLength: 1, maxLength: 150, size: 'max' }),
            ),
          ),
        fc.constantFrom<DrawEstimatorOptions>({ freshMs: 12_500 }, { freshMs: 5000, maxDelayMs: 4000 }),
        ([specs, steps], o) => run(specs, steps, o),
      ),
      { numRuns: 300 },
    );
  });

  it('same while the site is calm for long stretches (the measured margin comes into play)', () => {
    fc.assert(
      fc.property(
        fc
          .array(specArb, { minLength: 1, maxLength: 4 })
          .chain((specs) =>
            fc.tuple(
              fc.constant(specs),
              fc.array(stepArb(specs.length, 30), { minLength: 60, maxLength: 200, size: 'max' }),
            ),
          ),
        ([specs, steps]) => run(specs, steps, { freshMs: 12_500 }),
      ),
      { numRuns: 100 },
    );
  });

  it('same on a bigger site, where the lists are long and EVSEs move in them', () => {
    fc.assert(
      fc.property(
        fc
          .array(specArb, { minLength: 20, maxLength: 60 })
          .chain((specs) =>
            fc.tuple(fc.constant(specs), fc.array(stepArb(specs.length), { minLength: 1, maxLength: 40, size: 'max' })),
          ),
        ([specs, steps]) => run(specs, steps, { freshMs: 12_500 }),
      ),
      { numRuns: 40 },
    );
  });

  it('the random runs reached every branch compared', () => {
    // Runs after the two above (same file, in order): each kind of output was compared many times.
    for (const [k, v] of Object.entries(seen)) expect(v, k).toBeGreaterThan(10);
  });
});
