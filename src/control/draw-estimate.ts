import type { Setpoint } from '../model/decision.js';
import { reading } from '../model/reading.js';
import {
  type EvseState,
  type OfferedSetpoint,
  SESSION_STATUSES,
  type SiteSnapshot,
  sessionKey,
} from '../model/site.js';
import { DrawTrack, type Range } from './draw-track.js';
import { MarginMeter, type MeasuredMargin } from './margin.js';
import { type PhaseCount, VehiclePhases } from './vehicle-phases.js';

/**
 * What each charging session draws now, for the site balance (building load =
 * grid meter − known loads), when its charger's reading does not show it at
 * the meter's moment. Without this, the draw of a charger that has not
 * confirmed it was counted as building load, the budget shrank by it and the
 * headroom was never filled.
 *
 * Each session's draw is a range (draw-track.ts): the set-points that may be
 * in force given the delay bounds its readings taught. Where the range is
 * open, the meter decides between "the vehicle followed" and "the building
 * moved":
 * - a vehicle with no evidence (never seen following) is taken at the LOWEST
 *   draw it may have, so an unexplained meter rise is building load;
 * - inside the learnt follow window of a vehicle seen following before, the
 *   building is taken as unchanged since the last meter sample as long as
 *   the meter stays within what the vehicles' possible draws explain (a rise
 *   as large as the pending increases, at the time they are due, is the
 *   vehicles following; anything beyond is building load at once).
 * The window is short (the learnt delay ± jitter), so a building step that
 * coincides with it is missed for at most that long; outside it the draw is
 * known and the building load is exact.
 */
export interface DrawEstimate {
  readonly evseId: string;
  readonly w: number;
  readonly uncertaintyW: number;
  readonly source: 'measured' | 'estimated';
  /** Learnt response delay of the vehicle (upper bound from its readings), ms; absent when never seen following. */
  readonly delayMs?: number;
  /** Phases the vehicle draws on, from its charger's per-phase readings; absent until seen. */
  readonly vehiclePhases?: PhaseCount;
}

export interface DrawEstimatorOptions {
  /** A reading older than this is not trusted, ms. */
  readonly freshMs: number;
  /** Longest response delay of a vehicle, and the one assumed until it is seen following, ms (default 11 s). */
  readonly maxDelayMs?: number;
}

/** A meter this close to what the vehicles' possible draws explain is explained by them, W and share of the open part. */
const TOLERANCE_W = 1500;
const TOLERANCE_SHARE = 0.05;

export class DrawEstimator {
  private readonly tracks = new Map<string, DrawTrack>();
  private last: readonly DrawEstimate[] = [];
  /** Building load (grid − battery − charging) of the last round, W: kept only inside follow windows. */
  private buildingW: number | undefined;

  private readonly maxDelayMs: number;
  /** How far the building load moves within the vehicles' response: the margin it needs. */
  private readonly marginMeter = new MarginMeter();
  private lastMargin: MeasuredMargin | undefined;
  /** The phases each session's vehicle draws on: its draw is its set-point × those, not × 3. */
  private readonly vehicles: VehiclePhases;
  /** Per round, by the snapshot's EVSE index: kept between rounds so a round allocates none of them. */
  private readonly phasesScratch: Array<PhaseCount | undefined> = [];
  private readonly rangesScratch: Array<Range | undefined> = [];
  private readonly tracksScratch: Array<DrawTrack | undefined> = [];
  /** Each EVSE's position in the snapshot `record` saw last. */
  private readonly index = new Map<string, number>();
  private indexed: readonly EvseState[] | undefined;
  /** The copies `apply` made last, by the snapshot's EVSE index, and what each was made from (`copyAt`). */
  private readonly copies = {
    from: [] as Array<EvseState | undefined>,
    phases: [] as Array<PhaseCount | undefined>,
    offer: [] as Array<OfferedSetpoint | undefined>,
    w: [] as Array<number | undefined>,
    ts: [] as number[],
    source: [] as string[],
    out: [] as Array<EvseState | undefined>,
  };
  /** The estimates `apply` made last, by the snapshot's EVSE index (`estimateAt`). */
  private readonly lastEstimates: Array<DrawEstimate | undefined> = [];
  /** Each EVSE's session key and what it was made from. */
  private readonly keys = new Map<string, { sessionId?: string; sessionStart?: number; key: string }>();

  constructor(private readonly o: DrawEstimatorOptions) {
    this.maxDelayMs = o.maxDelayMs ?? 11_000;
    this.vehicles = new VehiclePhases(this.maxDelayMs);
  }

  /** The margin measured in the last `apply` (API); undefined until enough has been measured. */
  margin(): MeasuredMargin | undefined {
    return this.lastMargin;
  }

  /** The estimates of the last `apply` (API, reasons). */
  estimates(): readonly DrawEstimate[] {
    return this.last;
  }

  /**
   * The snapshot with each session's `powerW` replaced by its estimate where its reading does not show
   * the draw at the meter's moment. Physical bound: the building cannot feed in more than on-site PV
   * produces, so the estimated draws never exceed what the meter shows (grid − battery + PV − measured).
   * Each session's `vehiclePhases` is the count its readings showed, so it is allocated on the phases
   * it draws on: a 2-phase vehicle on two where its readings put it on the charger's L1 and L2 (the
   * pair the allocator reserves for two), else on three.
   */
  apply(snapshot: SiteSnapshot, now: number): SiteSnapshot {
    const grid = snapshot.grid.powerW;
    const gridTs = grid?.ts ?? now;
    const list = snapshot.evses;
    // One pass per EVSE (its track looked up once), into arrays kept from round to round: at 1000
    // chargers the round's allocations and repeated look-ups were most of this phase's time.
    const phases = this.phasesScratch;
    const ranges = this.rangesScratch;
    const tracks = this.tracksScratch;
    phases.length = list.length;
    ranges.length = list.length;
    tracks.length = list.length;
    for (let i = 0; i < list.length; i++) {
      const e = list[i] as EvseState;
      if (!SESSION_STATUSES.has(e.status)) {
        phases[i] = undefined;
        ranges[i] = undefined;
        tracks[i] = undefined;
        continue;
      }
      const t = this.tracks.get(e.id);
      tracks[i] = t;
      const n = this.phasesOf(e, t);
      phases[i] = n;
      ranges[i] = this.range(e, t, now, gridTs, n);
    }
    let measuredW = 0;
    let stayW = 0;
    let lowW = 0;
    let highW = 0;
    /** How far the estimated draws are open (the vehicles' follow windows), W. */
    let openW = 0;
    for (const r of ranges) {
      if (!r) continue;
      if (r.measured) measuredW += r.lowW;
      else {
        openW += r.highW - r.lowW;
        stayW += r.stayW;
        // Only vehicles with evidence of how they follow may explain a meter move.
        lowW += r.learnt ? r.lowW : r.stayW;
        highW += r.learnt ? r.highW : r.stayW;
      }
    }
    const battery = snapshot.battery.powerW?.value ?? 0;
    // Where the open part of the draws lies: from each one's "not followed" value towards its highest
    // (up > 0) or its lowest (up < 0), as a share of the way.
    let up = 0;
    let scale = 1;
    if (grid) {
      const rest = grid.value - battery - measuredW;
      // The building as it was, if the vehicles' possible draws explain the meter; else it moved, by
      // how much is not known: the vehicles are taken not to have followed what is not confirmed.
      const was = this.buildingW;
      // (Within a tolerance: vehicles draw a little off their set-points, meter and readings are not exact.)
      const tol = TOLERANCE_W + TOLERANCE_SHARE * (highW - lowW);
      const b = was !== undefined && was >= rest - highW - tol && was <= rest - lowW + tol ? was : rest - stayW;
      const drawW = Math.min(highW, Math.max(lowW, rest - b));
      this.buildingW = rest - drawW;
      // Only a building load with every draw known tells how the building moves (see margin.ts).
      if (openW < 1) this.marginMeter.sample(gridTs, this.buildingW);
      if (drawW > stayW && highW > stayW) up = (drawW - stayW) / (highW - stayW);
      else if (drawW < stayW && stayW > lowW) up = (drawW - stayW) / (stayW - lowW);
      const pv = Math.max(0, snapshot.pv.powerW?.value ?? 0);
      const roomW = Math.max(0, grid.value - battery + pv - measuredW);
      if (drawW > roomW) scale = roomW / drawW;
    } else this.buildingW = undefined;
    const out: DrawEstimate[] = [];
    let changed = false;
    const evses: EvseState[] = [];
    for (let i = 0; i < list.length; i++) {
      const e0 = list[i] as EvseState;
      const r = ranges[i];
      if (!r) {
        evses.push(e0);
        continue;
      }
      const n = phases[i];
      // A 2-phase vehicle is allocated on two where its readings put it on the charger's L1 and L2.
      const allocated = n === 2 ? this.vehicles.allocated(e0.id, this.sessionOf(e0), n) : n;
      const newPhases = allocated !== undefined && allocated !== e0.vehiclePhases ? allocated : undefined;
      const t = tracks[i];
      const delayMs = t?.learnt ? t.delayMs() : undefined;
      // The set-point in force, for policies that learn what the vehicle takes of it.
      const offer = t && t.session === this.sessionOf(e0) ? t.offer : undefined;
      if (r.measured) {
        out.push(this.estimateAt(i, e0.id, r.lowW, 0, 'measured', delayMs, n));
        // The reading is the draw at the meter's moment: so dated, a policy does not drop it as old.
        const p = e0.powerW;
        if (!p || p.ts >= gridTs) {
          if (newPhases === undefined && offer === e0.offered) evses.push(e0);
          else {
            changed = true;
            evses.push(this.copyAt(i, e0, newPhases, offer, undefined, 0, ''));
          }
          continue;
        }
        changed = true;
        evses.push(this.copyAt(i, e0, newPhases, offer, p.value, gridTs, p.source));
        continue;
      }
      let w = r.stayW;
      if (r.learnt) w += up > 0 ? up * (r.highW - r.stayW) : up * (r.stayW - r.lowW);
      w *= scale;
      out.push(this.estimateAt(i, e0.id, w, Math.max(w - r.lowW, r.highW - w), 'estimated', delayMs, n));
      changed = true;
      evses.push(this.copyAt(i, e0, newPhases, offer, w, now, 'estimate'));
    }
    this.last = out;
    this.lastMargin = this.measureMargin(tracks);
    if (this.lastMargin)
      return { ...snapshot, evses: changed ? evses : snapshot.evses, measuredMargin: this.lastMargin };
    return changed ? { ...snapshot, evses } : snapshot;
  }

  /** The set-points just dispatched: the new targets the vehicles will follow. */
  record(setpoints: readonly Setpoint[], snapshot: SiteSnapshot, now: number): void {
    const list = snapshot.evses;
    for (const sp of setpoints) {
      const e = this.evseOf(list, sp.evseId);
      // Feed-in (V2G) is left to its measurement: the estimate models vehicles drawing, not feeding.
      if (!e || !SESSION_STATUSES.has(e.status) || sp.currentA < 0 || sp.powerW < 0) {
        this.tracks.delete(sp.evseId);
        continue;
      }
      const key = this.sessionOf(e);
      let t = this.tracks.get(e.id);
      if (!t || t.session !== key) {
        // Before the first set-point the vehicle may take what the charger offers, its maximum, or nothing.
        t = new DrawTrack(key, e.maxCurrentA, sp.phases, this.maxDelayMs);
        this.tracks.set(e.id, t);
      }
      t.set(sp.currentA, sp.phases, now, this.vehicles.known(e.id, key));
    }
  }

  /**
   * `e` with the phases its vehicle draws on (`phases`, when it differs from `e`'s), the set-point in
   * force (`offer`, when known) and its draw (`powerW`, a good reading of `w` at `ts` from `source`,
   * when `w` is given), in one copy: the copy
   * made for the same EVSE object and values in the round before is returned again (at 1000 chargers
   * a copy of every EVSE per round was most of what the round allocated; a round without a new meter
   * sample or reading makes none).
   */
  private copyAt(
    i: number,
    e: EvseState,
    phases: PhaseCount | undefined,
    offer: OfferedSetpoint | undefined,
    w: number | undefined,
    ts: number,
    source: string,
  ): EvseState {
    const c = this.copies;
    const last = c.out[i];
    if (
      last !== undefined &&
      c.from[i] === e &&
      c.phases[i] === phases &&
      c.offer[i] === offer &&
      Object.is(c.w[i], w) &&
      (w === undefined || (c.ts[i] === ts && c.source[i] === source))
    )
      return last;
    const copy: { -readonly [K in keyof EvseState]: EvseState[K] } = { ...e };
    if (phases !== undefined) copy.vehiclePhases = phases;
    if (offer !== undefined) copy.offered = offer;
    if (w !== undefined) copy.powerW = reading(w, ts, source);
    c.from[i] = e;
    c.phases[i] = phases;
    c.offer[i] = offer;
    c.w[i] = w;
    c.ts[i] = ts;
    c.source[i] = source;
    c.out[i] = copy;
    return copy;
  }

  /** The estimate, the same object as the round before's for this EVSE when nothing in it changed. */
  private estimateAt(
    i: number,
    evseId: string,
    w: number,
    uncertaintyW: number,
    source: DrawEstimate['source'],
    delayMs: number | undefined,
    n: PhaseCount | undefined,
  ): DrawEstimate {
    const last = this.lastEstimates[i];
    if (
      last !== undefined &&
      last.evseId === evseId &&
      Object.is(last.w, w) &&
      Object.is(last.uncertaintyW, uncertaintyW) &&
      last.source === source &&
      last.delayMs === delayMs &&
      last.vehiclePhases === n
    )
      return last;
    const o: { -readonly [K in keyof DrawEstimate]: DrawEstimate[K] } = { evseId, w, uncertaintyW, source };
    if (delayMs !== undefined) o.delayMs = delayMs;
    if (n !== undefined) o.vehiclePhases = n;
    this.lastEstimates[i] = o;
    return o;
  }

  /**
   * The EVSE of that id in the list, by its position in the list seen last (the lists of one site
   * keep their order from round to round): no map of the whole list built for every round.
   */
  private evseOf(list: readonly EvseState[], id: string): EvseState | undefined {
    const i = this.index.get(id);
    if (i !== undefined && i < list.length && (list[i] as EvseState).id === id) return list[i];
    // Built again only for a list it was not built from: a set-point of an EVSE not in the list
    // does not cost a pass over the list each.
    if (this.indexed !== list) {
      this.indexed = list;
      this.index.clear();
      // The last of an id wins, as a map built from the list did.
      for (let j = 0; j < list.length; j++) this.index.set((list[j] as EvseState).id, j);
    }
    const k = this.index.get(id);
    return k === undefined ? undefined : list[k];
  }

  /** The session's key, its text made again only when the session changes. */
  private sessionOf(e: EvseState): string {
    const k = this.keys.get(e.id);
    if (k && k.sessionId === e.sessionId && k.sessionStart === e.sessionStart) return k.key;
    const key = sessionKey(e);
    this.keys.set(e.id, { sessionId: e.sessionId, sessionStart: e.sessionStart, key });
    return key;
  }

  /**
   * The margin from what was measured: the building load's moves within the slowest learnt response
   * (the longest delay assumed for a vehicle not seen following yet).
   */
  private measureMargin(tracks: ReadonlyArray<DrawTrack | undefined>): MeasuredMargin | undefined {
    let responseMs = 0;
    for (const t of tracks) if (t) responseMs = Math.max(responseMs, t.learnt ? t.delayMs() : this.maxDelayMs);
    return this.marginMeter.margin(Math.max(responseMs, 1000));
  }

  /** What the session's vehicle was seen drawing on, learnt from its charger's latest per-phase reading. */
  private phasesOf(e: EvseState, t: DrawTrack | undefined): PhaseCount | undefined {
    const key = this.sessionOf(e);
    const own = t && t.session === key ? t : undefined;
    const since = own ? own.offered3Since : e.phases === 3 ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    const n = this.vehicles.observe(e, key, since);
    if (own && n !== undefined) own.vehiclePhases = n;
    return n;
  }

  /** What a session may draw at the meter's moment; undefined when it is not charging or not known at all. */
  private range(
    e: EvseState,
    t: DrawTrack | undefined,
    now: number,
    gridTs: number,
    phases: PhaseCount | undefined,
  ): Range | undefined {
    if (!t && e.bidirectional) return undefined;
    const r = e.powerW;
    const fresh = r !== undefined && r.quality === 'good' && r.source !== 'estimate' && now - r.ts <= this.o.freshMs;
    if (fresh && !t) return { lowW: r.value, highW: r.value, stayW: r.value, measured: true, learnt: true };
    // A charger that reports its vehicle suspended, with a fresh reading, is taken at that reading: a draw
    // estimated from its set-point is one the meter does not have, so the building load would come out
    // too low and the others would be given more than the site has (a resume after a pause overshot).
    if (fresh && (e.status === 'SuspendedEV' || e.status === 'SuspendedEVSE'))
      return { lowW: r.value, highW: r.value, stayW: r.value, measured: true, learnt: true };
    // A session that just started, before its first set-point: its vehicle takes anything up to what the
    // charger offers. The meter rise that comes with it is the vehicle (its start is the evidence), not
    // the building: else the sessions already running were paused to make room for it.
    if (!t) {
      const maxW = e.maxCurrentA * (phases ?? e.vehiclePhases ?? e.phases) * e.voltageV;
      return { lowW: 0, highW: maxW, stayW: 0, measured: false, learnt: true };
    }
    return t.range(e, gridTs, fresh ? r : undefined);
  }
}
