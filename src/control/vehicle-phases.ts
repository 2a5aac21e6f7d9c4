import type { EvseState } from '../model/site.js';

/** Phases a vehicle draws on: 1- and 2-phase on-board chargers are common behind 3-phase chargers. */
export type PhaseCount = 1 | 2 | 3;

/**
 * The phases each session's vehicle draws on, learnt from its charger's per-phase Current.Import
 * readings (any age, as long as they belong to the session): a vehicle that draws on one phase of a
 * 3-phase charger draws a third of what its set-point × 3 phases says. Counted on three phases, its
 * estimated draw was three times too high, so the building load came out too low and the others
 * were given power the site does not have.
 *
 * Learnt again for every session (a new vehicle). More phases are believed at once (the vehicle
 * started drawing on more: the allocator must reserve them); fewer only from two readings in a row
 * taken while the charger has been offering three phases long enough for the vehicle to follow, so
 * a phase switch made by the gateway, or a single reading that caught one phase ramping, is not
 * taken for the vehicle's count.
 */
interface Seen {
  readonly session: string;
  phases: PhaseCount;
  /** The reading last used, by its time stamp (each reading is counted once). */
  ts: number;
  /** The charger terminals (bit 0 = L1) readings showed in use at this count. */
  terminals: number;
  fewer?: { phases: PhaseCount; n: number; terminals: number };
}

/** The terminals a 2-phase vehicle is taken to draw on when it is allocated on two: L1 and L2. */
const L1L2 = 0b011;

/** Below this highest phase current, a reading does not tell the phases apart, A. */
const MIN_A = 2;
/** A phase carrying more than this share of the highest phase current is in use. */
const IN_USE_SHARE = 0.5;
/** Readings in a row that must show fewer phases before the count goes down. */
const FEWER_READINGS = 2;

export class VehiclePhases {
  private readonly seen = new Map<string, Seen>();

  constructor(private readonly settleMs: number) {}

  /**
   * The phases to allocate the session's vehicle on, from `observe`'s count: a 2-phase vehicle on two
   * only when its readings showed it on the charger's L1 and L2 (the site phases the allocator reserves
   * for two, through the charger's rotation), else on three (safe: it draws on no more).
   */
  allocated(evseId: string, session: string, n: PhaseCount | undefined): PhaseCount | undefined {
    if (n !== 2) return n;
    const s = this.seen.get(evseId);
    return s && s.session === session && s.phases === 2 && s.terminals === L1L2 ? 2 : 3;
  }

  /** What `observe` last learnt for this session, without a new reading. */
  known(evseId: string, session: string): PhaseCount | undefined {
    const s = this.seen.get(evseId);
    return s && s.session === session ? s.phases : undefined;
  }

  /**
   * The phases the session's vehicle draws on, from its readings so far (undefined until a reading
   * shows it drawing). `offered3Since`: since when the charger's set-points have offered all three
   * phases (+∞ while it is switched to one).
   */
  observe(e: EvseState, session: string, offered3Since: number): PhaseCount | undefined {
    let s = this.seen.get(e.id);
    if (s && s.session !== session) {
      this.seen.delete(e.id);
      s = undefined;
    }
    if (e.phases === 1) return 1;
    const r = e.currentsA;
    if (r?.quality !== 'good' || (s && r.ts <= s.ts)) return s?.phases;
    if (e.sessionStart !== undefined && r.ts < e.sessionStart) return s?.phases;
    const v = r.value;
    const max = Math.max(v[0], v[1], v[2]);
    if (!(max >= MIN_A)) return s?.phases;
    const half = IN_USE_SHARE * max;
    const terminals = (v[0] > half ? 1 : 0) | (v[1] > half ? 2 : 0) | (v[2] > half ? 4 : 0);
    const n = ((terminals & 1) + ((terminals >> 1) & 1) + ((terminals >> 2) & 1)) as PhaseCount;
    const settled = r.ts >= offered3Since + this.settleMs;
    if (!s) {
      // A first count below three only from the charger offering three phases.
      if (n < 3 && !settled) return undefined;
      this.seen.set(e.id, { session, phases: n, ts: r.ts, terminals });
      return n;
    }
    s.ts = r.ts;
    if (n > s.phases) {
      s.phases = n;
      s.terminals = terminals;
      s.fewer = undefined;
    } else if (n < s.phases && settled) {
      s.fewer =
        s.fewer?.phases === n
          ? { phases: n, n: s.fewer.n + 1, terminals: s.fewer.terminals | terminals }
          : { phases: n, n: 1, terminals };
      if (s.fewer.n >= FEWER_READINGS) {
        s.phases = n;
        s.terminals = s.fewer.terminals;
        s.fewer = undefined;
      }
    } else {
      // At the same count, every terminal seen in use counts (a pair seen on two different sets of
      // terminals is not the L1-L2 pair the allocator would reserve).
      if (n === s.phases) s.terminals |= terminals;
      s.fewer = undefined;
    }
    return s.phases;
  }
}
