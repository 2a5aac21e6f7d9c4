/**
 * Planning of the fleet's energy against the power the site will have for
 * charging, known import limits included (a day-ahead DR event at 17:00
 * means the vehicles must have most of their energy before it). Pure: plain
 * numbers in, plain numbers out.
 */

/** An import limit known in advance (a DR event, day-ahead or short notice), W at the grid meter. */
export interface ImportWindow {
  readonly start: number;
  readonly end: number;
  readonly importLimitW: number;
}

/** Power for charging over time: a ceiling, less what the site uses besides the vehicles. */
export interface ChargingCapacity {
  /** Highest import of the site without any signal (contract, fuse), W. */
  readonly ceilingW: number;
  /** Known import limits, active or coming. */
  readonly windows: readonly ImportWindow[];
  /** Load the gateway does not control (taken to stay as measured now) plus the margin kept, W. */
  readonly reservedW: number;
}

export interface PlanInput {
  readonly id: string;
  readonly departureAt: number;
  readonly remainingWh: number;
  /** Highest power the vehicle takes, W. */
  readonly maxW: number;
}

export interface PlanNow {
  /** Energy that must be charged before `untilMs` because the time after it cannot take it, Wh. */
  readonly mustWh: number;
  /** That energy spread evenly until `untilMs`, W (at most the vehicle's maximum). */
  readonly mustW: number;
  /** End of the period the plan is for (the next change of capacity or the next departure). */
  readonly untilMs: number;
  /** `mustWh` cannot be charged before `untilMs` even at the vehicle's own maximum. */
  readonly late: boolean;
}

/** Charging power available at `t`, W (never below 0). */
export function capacityAt(c: ChargingCapacity, t: number): number {
  let top = c.ceilingW;
  for (const w of c.windows) if (w.start <= t && t < w.end && w.importLimitW < top) top = w.importLimitW;
  return Math.max(0, top - c.reservedW);
}

/**
 * What each vehicle must charge now. Everything is planned as late as
 * possible against the capacity to come (taken at `derate` of itself, and
 * each vehicle at `derate` of its maximum, to leave room for what does not go
 * to plan): walking back from the last departure, each period is shared
 * among the vehicles still plugged in then, the one with the most charging
 * time at full power left first (water-filling), so that as many vehicles as
 * possible can still use the earlier periods. What is left when the walk
 * reaches the current period cannot wait: that is the plan for now.
 */
export function planNow(
  vehicles: readonly PlanInput[],
  capacity: ChargingCapacity,
  now: number,
  derate = 1,
): Map<string, PlanNow> {
  const out = new Map<string, PlanNow>();
  // Departures on a 5-minute grid (rounded down: the plan never counts on time a vehicle is not there);
  // a big fleet then has at most 12 periods an hour, whatever its size.
  const live: Array<PlanInput & { at: number; left: number; p: number }> = [];
  for (const v of vehicles) {
    if (!(v.remainingWh > 0 && v.departureAt > now && v.maxW > 0)) continue;
    const grid = v.departureAt - (v.departureAt % GRID_MS);
    live.push({ ...v, at: grid > now ? grid : v.departureAt, left: v.remainingWh, p: v.maxW * derate });
  }
  if (live.length === 0) return out;
  // Latest departure first: walking back in time, the vehicles present only ever grow.
  live.sort((a, b) => b.at - a.at);
  const last = (live[0] as (typeof live)[number]).at;
  const marks = new Set<number>([now, last]);
  for (const v of live) marks.add(v.at);
  for (const w of capacity.windows) {
    if (w.start > now && w.start < last) marks.add(w.start);
    if (w.end > now && w.end < last) marks.add(w.end);
  }
  const times = [...marks].sort((a, b) => a - b);
  let n = 0;
  for (let j = times.length - 2; j >= 1; j--) {
    const a = times[j] as number;
    const b = times[j + 1] as number;
    while (n < live.length && (live[n] as (typeof live)[number]).at >= b) n++;
    if (n === 0) continue;
    const hours = (b - a) / 3_600_000;
    shareOut(live, n, capacityAt(capacity, a) * derate * hours, hours);
  }
  const untilMs = times[1] ?? last;
  const hours0 = (untilMs - now) / 3_600_000;
  for (const v of live) {
    const mustWh = Math.max(0, v.left);
    const mustW = hours0 > 0 ? mustWh / hours0 : mustWh > 0 ? Number.POSITIVE_INFINITY : 0;
    out.set(v.id, { mustWh, mustW: Math.min(v.maxW, mustW), untilMs, late: mustW > v.maxW * 1.000001 });
  }
  return out;
}

const GRID_MS = 300_000;

/**
 * Share `energyWh` of one period among the first `n` vehicles (those present): each takes at most
 * its derated maximum `p` for the period and what it still needs. When they could take more than
 * there is, the vehicle with the longest time at full power left takes first, down to a common
 * level τ (hours at full power each keeps for earlier periods): a vehicle takes
 * clamp(left − p·τ, 0, cap), and τ is found exactly on that piecewise linear sum.
 */
function shareOut(live: Array<{ left: number; p: number }>, n: number, energyWh: number, hours: number): void {
  let want = 0;
  for (let i = 0; i < n; i++) {
    const v = live[i] as { left: number; p: number };
    if (v.left > 0) want += Math.min(v.left, v.p * hours);
  }
  if (want <= energyWh) {
    for (let i = 0; i < n; i++) {
      const v = live[i] as { left: number; p: number };
      if (v.left > 0) v.left -= Math.min(v.left, v.p * hours);
    }
    return;
  }
  // Where each vehicle's take starts to fall (slope −p) and where it reaches 0.
  const events: Array<{ t: number; dp: number }> = [];
  for (let i = 0; i < n; i++) {
    const v = live[i] as { left: number; p: number };
    if (!(v.left > 0)) continue;
    const cap = Math.min(v.left, v.p * hours);
    events.push({ t: (v.left - cap) / v.p, dp: -v.p }, { t: v.left / v.p, dp: v.p });
  }
  events.sort((x, y) => x.t - y.t || x.dp - y.dp);
  let level = 0;
  let total = want;
  let slope = 0;
  for (const e of events) {
    const next = total + slope * (e.t - level);
    if (next <= energyWh && slope < 0) {
      level += (total - energyWh) / -slope;
      total = energyWh;
      break;
    }
    total = next;
    level = e.t;
    slope += e.dp;
  }
  for (let i = 0; i < n; i++) {
    const v = live[i] as { left: number; p: number };
    if (!(v.left > 0)) continue;
    const cap = Math.min(v.left, v.p * hours);
    v.left -= Math.min(cap, Math.max(0, v.left - v.p * level));
  }
}
