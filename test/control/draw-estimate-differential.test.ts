import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DrawEstimate, DrawEstimator, type DrawEstimatorOptions } from '../../src/control/draw-estimate.js';
import { DrawTrack, type Range } from '../../src/control/draw-track.js';
import { MarginMeter, type MeasuredMargin } from '../../src/control/margin.js';
import { type PhaseCount, VehiclePhases } from '../../src/control/vehicle-phases.js';
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

/** As in src/control/draw-estimate.ts (module constants, not exported). */
const TOLERANCE_W = 1500;
const TOLERANCE_SHARE = 0.05;

/**
 * The reference: main's draw estimate before the speed rewrite (c3a31da, 9fb7b48), verbatim but for
 * its comments, kept here only to compare the rewrite against. It uses the same track, margin and
 * vehicle-phase modules as the one in src, and has the one behavioural change made since (2-phase
 * vehicles allocated on two), marked where it is.
 */
class ReferenceDrawEstimator {
  private readonly tracks = new Map<string, DrawTrack>();
  private last: readonly DrawEstimate[] = [];
  private buildingW: number | undefined;
  private readonly maxDelayMs: number;
  private readonly marginMeter = new MarginMeter();
  private lastMargin: MeasuredMargin | undefined;
  private readonly vehicles: VehiclePhases;

  constructor(private readonly o: DrawEstimatorOptions) {
    this.maxDelayMs = o.maxDelayMs ?? 11_000;
    this.vehicles = new VehiclePhases(this.maxDelayMs);
  }

  margin(): MeasuredMargin | undefined {
    return this.lastMargin;
  }

  estimates(): readonly DrawEstimate[] {
    return this.last;
  }

  apply(snapshot: SiteSnapshot, now: number): SiteSnapshot {
    const grid = snapshot.grid.powerW;
    const gridTs = grid?.ts ?? now;
    const phases = snapshot.evses.map((e) => this.phasesOf(e));
    const ranges: Array<Range | undefined> = snapshot.evses.map((e, i) => this.range(e, now, gridTs, phases[i]));
    let measuredW = 0;
    let stayW = 0;
    let lowW = 0;
    let highW = 0;
    let openW = 0;
    for (const r of ranges) {
      if (!r) continue;
      if (r.measured) measuredW += r.lowW;
      else {
        openW += r.highW - r.lowW;
        stayW += r.stayW;
        lowW += r.learnt ? r.lowW : r.stayW;
        highW += r.learnt ? r.highW : r.stayW;
      }
    }
    const battery = snapshot.battery.powerW?.value ?? 0;
    let up = 0;
    let scale = 1;
    if (grid) {
      const rest = grid.value - battery - measuredW;
      const was = this.buildingW;
      const tol = TOLERANCE_W + TOLERANCE_SHARE * (highW - lowW);
      const b = was !== undefined && was >= rest - highW - tol && was <= rest - lowW + tol ? was : rest - stayW;
      const drawW = Math.min(highW, Math.max(lowW, rest - b));
      this.buildingW = rest - drawW;
      if (openW < 1) this.marginMeter.sample(gridTs, this.buildingW);
      if (drawW > stayW && highW > stayW) up = (drawW - stayW) / (highW - stayW);
      else if (drawW < stayW && stayW > lowW) up = (drawW - stayW) / (stayW - lowW);
      const pv = Math.max(0, snapshot.pv.powerW?.value ?? 0);
      const roomW = Math.max(0, grid.value - battery + pv - measuredW);
      if (drawW > roomW) scale = roomW / drawW;
    } else this.buildingW = undefined;
    const out: DrawEstimate[] = [];
    let changed = false;
    const evses = snapshot.evses.map((e0, i) => {
      const r = ranges[i];
      if (!r) return e0;
      const n = phases[i];
      // The one change since: a 2-phase vehicle is allocated on two where its readings put it on L1
      // and L2 (issue 15), made here as in src (main had `n === 1 ? 1 : 3`).
      const allocated = n === 2 ? this.vehicles.allocated(e0.id, sessionOf(e0), n) : n;
      let e = e0;
      if (allocated !== undefined && allocated !== e0.vehiclePhases) {
        e = { ...e0, vehiclePhases: allocated };
        changed = true;
      }
      const t = this.tracks.get(e.id);
      const delay = {
        ...(t?.learnt ? { delayMs: t.delayMs() } : {}),
        ...(n !== undefined ? { vehiclePhases: n } : {}),
      };
      if (r.measured) {
        out.push({ evseId: e.id, w: r.lowW, uncertaintyW: 0, source: 'measured', ...delay });
        const p = e.powerW;
        if (!p || p.ts >= gridTs) return e;
        changed = true;
        return { ...e, powerW: reading(p.value, gridTs, p.source) };
      }
      let w = r.stayW;
      if (r.learnt) w += up > 0 ? up * (r.highW - r.stayW) : up * (r.stayW - r.lowW);
      w *= scale;
      out.push({ evseId: e.id, w, uncertaintyW: Math.max(w - r.lowW, r.highW - w), source: 'estimated', ...delay });
      changed = true;
      return { ...e, powerW: reading(w, now, 'estimate') };
    });
    this.last = out;
    this.lastMargin = this.measureMargin(snapshot, ranges);
    if (this.lastMargin)
      return { ...snapshot, evses: changed ? evses : snapshot.evses, measuredMargin: this.lastMargin };
    return changed ? { ...snapshot, evses } : snapshot;
  }

  record(setpoints: readonly Setpoint[], snapshot: SiteSnapshot, now: number): void {
    const byId = new Map(snapshot.evses.map((e) => [e.id, e] as const));
    for (const sp of setpoints) {
      const e = byId.get(sp.evseId);
      if (!e || !SESSION_STATUSES.has(e.status) || sp.currentA < 0 || sp.powerW < 0) {
        this.tracks.delete(sp.evseId);
        continue;
      }
      const key = sessionOf(e);
      let t = this.tracks.get(e.id);
      if (!t || t.session !== key) {
        t = new DrawTrack(key, e.maxCurrentA, sp.phases, this.maxDelayMs);
        this.tracks.set(e.id, t);
      }
      t.set(sp.currentA, sp.phases, now, this.vehicles.known(e.id, key));
    }
  }

  private measureMargin(snapshot: SiteSnapshot, ranges: ReadonlyArray<Range | undefined>): MeasuredMargin | undefined {
    let responseMs = 0;
    for (let i = 0; i < snapshot.evses.length; i++) {
      const t = ranges[i] ? this.tracks.get((snapshot.evses[i] as EvseState).id) : undefined;
      if (t) responseMs = Math.max(responseMs, t.learnt ? t.delayMs() : this.maxDelayMs);
    }
    return this.marginMeter.margin(Math.max(responseMs, 1000));
  }

  private phasesOf(e: EvseState): PhaseCount | undefined {
    if (!SESSION_STATUSES.has(e.status)) return undefined;
    const key = sessionOf(e);
    const t = this.tracks.get(e.id);
    const own = t && t.session === key ? t : undefined;
    const since = own ? own.offered3Since : e.phases === 3 ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    const n = this.vehicles.observe(e, key, since);
    if (own && n !== undefined) own.vehiclePhases = n;
    return n;
  }

  private range(e: EvseState, now: number, gridTs: number, phases: PhaseCount | undefined): Range | undefined {
    if (!SESSION_STATUSES.has(e.status)) return undefined;
    const t = this.tracks.get(e.id);
    if (!t && e.bidirectional) return undefined;
    const r = e.powerW;
    const fresh = r !== undefined && r.quality === 'good' && r.source !== 'estimate' && now - r.ts <= this.o.freshMs;
    if (fresh && !t) return { lowW: r.value, highW: r.value, stayW: r.value, measured: true, learnt: true };
    if (fresh && (e.status === 'SuspendedEV' || e.status === 'SuspendedEVSE'))
      return { lowW: r.value, highW: r.value, stayW: r.value, measured: true, learnt: true };
    if (!t) {
      const maxW = e.maxCurrentA * (phases ?? e.vehiclePhases ?? e.phases) * e.voltageV;
      return { lowW: 0, highW: maxW, stayW: 0, measured: false, learnt: true };
    }
    return t.range(e, gridTs, fresh ? r : undefined);
  }
}

function sessionOf(e: EvseState): string {
  return `${e.sessionId ?? ''}@${e.sessionStart ?? ''}`;
}

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
