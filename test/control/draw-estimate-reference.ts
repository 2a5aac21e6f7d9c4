import type { DrawEstimate, DrawEstimatorOptions } from '../../src/control/draw-estimate.js';
import { DrawTrack, type Range } from '../../src/control/draw-track.js';
import { MarginMeter, type MeasuredMargin } from '../../src/control/margin.js';
import { type PhaseCount, VehiclePhases } from '../../src/control/vehicle-phases.js';
import type { Setpoint } from '../../src/model/decision.js';
import { reading } from '../../src/model/reading.js';
import { type EvseState, SESSION_STATUSES, type SiteSnapshot } from '../../src/model/site.js';

// The reference of test/control/draw-estimate-differential.test.ts.

/** As in src/control/draw-estimate.ts (module constants, not exported). */
const TOLERANCE_W = 1500;
const TOLERANCE_SHARE = 0.05;

/**
 * The reference: main's draw estimate before the speed rewrite (c3a31da, 9fb7b48), verbatim but for
 * its comments, kept here only to compare the rewrite against. It uses the same track, margin and
 * vehicle-phase modules as the one in src, and has the behavioural changes made since (2-phase
 * vehicles allocated on two; the set-point in force on each session), marked where they are.
 */
export class ReferenceDrawEstimator {
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
      // The first change since: a 2-phase vehicle is allocated on two where its readings put it on L1
      // and L2 (issue 15), made here as in src (main had `n === 1 ? 1 : 3`).
      const allocated = n === 2 ? this.vehicles.allocated(e0.id, sessionOf(e0), n) : n;
      let e = e0;
      if (allocated !== undefined && allocated !== e0.vehiclePhases) {
        e = { ...e0, vehiclePhases: allocated };
        changed = true;
      }
      const t = this.tracks.get(e.id);
      // The second change since: the set-point in force goes out with the session (the fleet policy
      // learns each vehicle's maximum from it), made here as in src.
      const offer = t && t.session === sessionOf(e0) ? t.offer : undefined;
      if (offer !== undefined && e.offered !== offer) {
        e = { ...e, offered: offer };
        changed = true;
      }
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
