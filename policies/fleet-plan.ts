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
  const live = vehicles.filter((v) => v.remainingWh > 0 && v.departureAt > now && v.maxW > 0);
  const out = new Map<string, PlanNow>();
  if (live.length === 0) return out;
  const last = Math.max(...live.map((v) => v.departureAt));
  const marks = new Set<number>([now, last]);
  for (const v of live) marks.add(v.departureAt);
  for (const w of capacity.windows) {
    if (w.start > now && w.start < last) marks.add(w.start);
    if (w.end > now && w.end < last) marks.add(w.end);
  }
  const times = [...marks].sort((a, b) => a - b);
  const left = new Map(live.map((v) => [v.id, v.remainingWh]));
  for (let j = times.length - 2; j >= 1; j--) {
    const a = times[j] as number;
    const b = times[j + 1] as number;
    const hours = (b - a) / 3_600_000;
    const present = live.filter((v) => v.departureAt >= b && (left.get(v.id) ?? 0) > 0);
    if (present.length === 0) continue;
    const share = shareOut(present, left, capacityAt(capacity, a) * derate * hours, hours, derate);
    for (const [id, wh] of share) left.set(id, (left.get(id) ?? 0) - wh);
  }
  const untilMs = times[1] ?? last;
  const hours0 = (untilMs - now) / 3_600_000;
  for (const v of live) {
    const mustWh = Math.max(0, left.get(v.id) ?? 0);
    const mustW = hours0 > 0 ? mustWh / hours0 : mustWh > 0 ? Number.POSITIVE_INFINITY : 0;
    out.set(v.id, { mustWh, mustW: Math.min(v.maxW, mustW), untilMs, late: mustW > v.maxW * 1.000001 });
  }
  return out;
}

/**
 * Share `energyWh` of one period among the vehicles present: each can take at most its derated
 * maximum for the period and what it still needs; when they could take more than there is, the
 * vehicle with the longest charging time at full power left takes first, down to a common level.
 */
function shareOut(
  present: readonly PlanInput[],
  left: ReadonlyMap<string, number>,
  energyWh: number,
  hours: number,
  derate: number,
): Map<string, number> {
  const cap = (v: PlanInput) => Math.min(left.get(v.id) ?? 0, v.maxW * derate * hours);
  const out = new Map<string, number>();
  let want = 0;
  for (const v of present) want += cap(v);
  if (want <= energyWh) {
    for (const v of present) out.set(v.id, cap(v));
    return out;
  }
  // The level: hours at full power each vehicle keeps for earlier periods.
  const takeAt = (level: number) => (v: PlanInput) =>
    Math.min(cap(v), Math.max(0, (left.get(v.id) ?? 0) - v.maxW * derate * level));
  let lo = 0;
  let hi = Math.max(...present.map((v) => (left.get(v.id) ?? 0) / (v.maxW * derate)));
  for (let i = 0; i < 50 && hi - lo > 1e-9; i++) {
    const mid = (lo + hi) / 2;
    let sum = 0;
    for (const v of present) sum += takeAt(mid)(v);
    if (sum > energyWh) lo = mid;
    else hi = mid;
  }
  for (const v of present) out.set(v.id, takeAt(hi)(v));
  return out;
}
