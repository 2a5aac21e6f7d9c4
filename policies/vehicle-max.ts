import { type EvseState, SESSION_STATUSES, type SiteSnapshot, sessionKey } from '../src/model/site.js';

/**
 * The most each vehicle draws, learnt per session from what it takes of what its charger offers.
 * A van with a 16 A on-board charger on a 32 A charger draws 16 A whatever it is offered: planned
 * at the charger's 32 A it looked done in half the time it takes, so it was served after vehicles
 * with less time to spare and missed its departure (stress: 4 of 14 departures missed).
 *
 * A reading of the charger (per-phase currents, else its measured power on the phases the vehicle
 * draws on) counts once every set-point that may be in force at it has been in force long enough
 * for the slowest vehicle to follow (`SETTLE_MS`): drawing clearly below the lowest of them, the
 * vehicle takes no more than it draws (its maximum now, a taper near full included); drawing
 * clearly above what was learnt, the vehicle takes more and what was learnt is forgotten.
 * Explicit memory, one entry per EVSE with a session, dropped when the session ends.
 */
export class VehicleMaxMemory {
  private readonly sessions = new Map<string, SessionMax>();

  /** Learn from one round's snapshot (the set-points in force and the chargers' readings). */
  observe(snapshot: SiteSnapshot, now: number): void {
    const seen = new Set<string>();
    for (const e of snapshot.evses) {
      if (!SESSION_STATUSES.has(e.status)) continue;
      seen.add(e.id);
      const key = sessionKey(e);
      let s = this.sessions.get(e.id);
      if (!s || s.key !== key) {
        s = { key, offers: [], maxA: undefined, readTs: Number.NEGATIVE_INFINITY };
        this.sessions.set(e.id, s);
      }
      remember(s, e, now);
      learn(s, e, now);
    }
    for (const id of this.sessions.keys()) if (!seen.has(id)) this.sessions.delete(id);
  }

  /** The learnt per-phase maximum of the vehicle in this EVSE's current session, A; undefined until learnt. */
  maxA(e: EvseState): number | undefined {
    const s = this.sessions.get(e.id);
    return s && s.key === sessionKey(e) ? s.maxA : undefined;
  }
}

/**
 * How long a set-point must have been in force before a reading shows what the vehicle makes of
 * it, ms: AC vehicles follow 5–11 s late, a few up to 30 s; plus the profile's way to the charger.
 */
export const SETTLE_MS = 35_000;
/** Drawing this far below every set-point in force is the vehicle's own limit, A (not meter noise). */
export const BELOW_A = 2;
/** Drawing this far above the learnt maximum shows the vehicle takes more, A. */
const ABOVE_A = 1;
/** A reading older than this is not used, ms. */
const READING_MAX_AGE_MS = 60_000;
/** Below this per-phase current the vehicle is not drawing (paused, full): no evidence of its maximum, A. */
const DRAWING_A = 1;

interface Offer {
  readonly a: number;
  readonly at: number;
}

interface SessionMax {
  readonly key: string;
  /** The set-points of the session, oldest first: the one in force `SETTLE_MS` before the oldest usable reading and all after it. */
  offers: Offer[];
  maxA: number | undefined;
  /** The last reading learnt from (each is used once). */
  readTs: number;
}

function remember(s: SessionMax, e: EvseState, now: number): void {
  const o = e.offered;
  if (!o) return;
  const last = s.offers[s.offers.length - 1];
  if (!last || last.at !== o.since || last.a !== o.currentA) s.offers.push({ a: o.currentA, at: o.since });
  // Keep the offer in force at the start of the oldest window a usable reading may look at.
  const from = now - READING_MAX_AGE_MS - SETTLE_MS;
  while (s.offers.length > 1 && (s.offers[1] as Offer).at <= from) s.offers.shift();
}

/** The lowest set-point that may have been in force at `ts`, or undefined when not all of them are known. */
function lowestOffer(s: SessionMax, ts: number): number | undefined {
  const from = ts - SETTLE_MS;
  const first = s.offers[0];
  if (!first || first.at > from) return undefined;
  let low = Number.POSITIVE_INFINITY;
  for (let i = 0; i < s.offers.length; i++) {
    const o = s.offers[i] as Offer;
    const next = s.offers[i + 1];
    if (o.at > ts) break;
    if (next && next.at <= from) continue;
    low = Math.min(low, o.a);
  }
  return Number.isFinite(low) ? low : undefined;
}

/** The per-phase current the vehicle draws by the charger's latest reading, with the reading's time. */
function drawn(e: EvseState, now: number): { a: number; ts: number } | undefined {
  const c = e.currentsA;
  if (c && c.quality === 'good' && now - c.ts <= READING_MAX_AGE_MS && c.ts <= now)
    return { a: Math.max(c.value[0], c.value[1], c.value[2]), ts: c.ts };
  const p = e.powerW;
  const phases = e.vehiclePhases ?? e.offered?.phases ?? e.phases;
  if (p && p.quality === 'good' && p.source !== 'estimate' && now - p.ts <= READING_MAX_AGE_MS && p.ts <= now)
    return { a: p.value / (phases * e.voltageV), ts: p.ts };
  return undefined;
}

function learn(s: SessionMax, e: EvseState, now: number): void {
  if (e.status !== 'Charging') return;
  const r = drawn(e, now);
  if (!r || r.ts <= s.readTs) return;
  s.readTs = r.ts;
  if (!(r.a >= DRAWING_A)) return;
  const offered = lowestOffer(s, r.ts);
  if (offered !== undefined && r.a <= offered - BELOW_A) s.maxA = r.a;
  else if (s.maxA !== undefined && r.a > s.maxA + ABOVE_A) s.maxA = undefined;
}
