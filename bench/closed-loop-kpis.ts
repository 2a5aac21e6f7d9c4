/**
 * The issue-15 figures of one closed-loop run, computed from what the site
 * peer recorded (its meter, its vehicles' draw, its chargers' profiles), never
 * from the gateway's own view.
 */

/** [monotonic ms, base load W, vehicles' draw W, draw the profiles allow W], every 100 ms. */
export type Sample = readonly [number, number, number, number];
/** [monotonic ms, charger index, limit A] of every profile received. */
export type ProfileEvent = readonly [number, number, number];

export interface Step {
  readonly t0: number;
  readonly fromW: number;
  readonly toW: number;
}

export interface SiteShape {
  readonly limitW: number;
  /** What all chargers together can draw, W (the cap of "headroom"). */
  readonly chargersMaxW: number;
  readonly chargers: number;
  /** The vehicles' follow delay, ms. */
  readonly lagMs: number;
  /** Time after a step down by which the headroom should be filled (10 s at once, 20 s late), ms. */
  readonly fillDeadlineMs: number;
}

export interface Kpis {
  /** Meter above the limit, beyond 1 s grace after the vehicles could have followed a step up, s. */
  readonly overLimitS: number;
  /** Meter above the limit at all, s (the step-up lag included). */
  readonly overLimitRawS: number;
  /** Per held period: mean of allowed / min(limit − base, chargers' max) after the fill deadline. */
  readonly headroomPct: number[];
  /** Per step down: time until the allowed draw reached 90 % of the headroom, ms (Infinity: never). */
  readonly fillMs: number[];
  /** Per step up: step → last charger's first lower profile, ms. */
  readonly reactionMs: number[];
  /** Profiles per charger per minute over the whole run. */
  readonly profilesPerMin: number;
  /** The same, only in steady operation (from 20 s + lag after a step to the next step). */
  readonly steadyProfilesPerMin: number;
  /** Largest meter value above the limit, W. */
  readonly worstOverW: number;
}

export function kpis(
  samples: readonly Sample[],
  profiles: readonly ProfileEvent[],
  steps: readonly Step[],
  site: SiteShape,
  endAt: number,
): Kpis {
  const graceEnds = steps.filter((s) => s.toW > s.fromW).map((s) => [s.t0, s.t0 + site.lagMs + 1000] as const);
  let over = 0;
  let overRaw = 0;
  let worstOverW = 0;
  const from = steps[0]?.t0 ?? endAt;
  for (let i = 1; i < samples.length; i++) {
    const [t, base, ev] = samples[i] as Sample;
    if (t < from) continue;
    const dt = t - (samples[i - 1] as Sample)[0];
    const meter = base + ev;
    if (meter <= site.limitW) continue;
    worstOverW = Math.max(worstOverW, meter - site.limitW);
    overRaw += dt;
    if (!graceEnds.some(([a, b]) => t >= a && t < b)) over += dt;
  }
  const headroomPct: number[] = [];
  const fillMs: number[] = [];
  const reactionMs: number[] = [];
  let steadyProfiles = 0;
  let steadyMs = 0;
  steps.forEach((s, i) => {
    const end = steps[i + 1]?.t0 ?? endAt;
    const headroom = Math.min(site.limitW - s.toW, site.chargersMaxW);
    const held = samples.filter((x) => x[0] >= s.t0 + site.fillDeadlineMs && x[0] < end);
    if (held.length > 0) headroomPct.push((100 * held.reduce((a, x) => a + x[3], 0)) / held.length / headroom);
    if (s.toW < s.fromW) {
      const hit = samples.find((x) => x[0] >= s.t0 && x[3] >= 0.9 * headroom);
      fillMs.push(hit ? hit[0] - s.t0 : Number.POSITIVE_INFINITY);
    } else {
      // No cut needed (what was allowed already fits the new headroom): no reaction to time.
      const allowedAtStep = samples.filter((x) => x[0] <= s.t0).at(-1)?.[3] ?? 0;
      if (allowedAtStep > headroom) reactionMs.push(lastCut(profiles, s.t0, end));
    }
    const steadyFrom = s.t0 + 20_000 + site.lagMs;
    if (end > steadyFrom) {
      steadyMs += end - steadyFrom;
      steadyProfiles += profiles.filter((p) => p[0] >= steadyFrom && p[0] < end).length;
    }
  });
  const all = profiles.filter((p) => p[0] >= from && p[0] < endAt).length;
  const perMin = (count: number, ms: number) => (ms > 0 ? count / site.chargers / (ms / 60_000) : 0);
  return {
    overLimitS: over / 1000,
    overLimitRawS: overRaw / 1000,
    headroomPct,
    fillMs,
    reactionMs,
    profilesPerMin: perMin(all, endAt - from),
    steadyProfilesPerMin: perMin(steadyProfiles, steadyMs),
    worstOverW,
  };
}

/** Step → the last charger's first profile lower than the one it had at the step, ms. */
function lastCut(profiles: readonly ProfileEvent[], t0: number, end: number): number {
  const before = new Map<number, number>();
  for (const [t, c, a] of profiles) if (t < t0) before.set(c, a);
  let last = 0;
  let cut = 0;
  const seen = new Set<number>();
  for (const [t, c, a] of profiles) {
    if (t < t0 || t >= end || seen.has(c)) continue;
    if (a < (before.get(c) ?? 32) - 0.05) {
      seen.add(c);
      cut++;
      last = Math.max(last, t - t0);
    }
  }
  return cut === 0 ? Number.POSITIVE_INFINITY : last;
}
