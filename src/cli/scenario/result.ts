import type { SiteKpis } from '../../../sim/scenario/kpis.js';

/** KPIs of one controller on one day (the `--json` shape), all measured by the site. */
export interface ControllerKpis {
  readonly name: string;
  /** Seconds over any limit the controller is judged on (beyond vehicle lag after uncontrolled steps). */
  readonly overLimitJudgedS: number;
  /** Seconds over a limit while vehicles could not yet follow an uncontrolled load step (raw). */
  readonly overLimitLagS: number;
  readonly limits: Record<
    string,
    { limit: string; peak: string; peakPerPhaseA?: readonly number[]; judgedS: number; lagS: number }
  >;
  readonly peakImportKw: number;
  readonly deliveredKwh: number;
  readonly deadlinesTotal: number;
  readonly deadlinesFeasible: number;
  readonly deadlinesMissed: number;
  readonly energyShortfallKwh: number;
  readonly solarSelfConsumptionPct: number;
  readonly costEur: number;
  readonly dr?: {
    readonly intervals: ReadonlyArray<{
      id: string;
      limitKw: number;
      compliancePct: number;
      responseS: number | null;
      peakKw: number;
    }>;
    readonly compliancePct: number;
    readonly responseS: { readonly p50: number | null; readonly p99: number | null };
    readonly failures: number;
  };
  readonly misses: readonly string[];
  readonly wallMs: number;
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** Percentile where a failure (null) counts as worse than any response. */
function percentile(xs: ReadonlyArray<number | null>, q: number): number | null {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => (a ?? Number.POSITIVE_INFINITY) - (b ?? Number.POSITIVE_INFINITY));
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? null;
}

export function summarise(name: string, k: SiteKpis, wallMs: number): ControllerKpis {
  const limits: ControllerKpis['limits'] = {};
  for (const [n, l] of Object.entries(k.limits)) {
    const fmt = (x: number) => (l.unit === 'W' ? `${round(x / 1000)} kW` : `${round(x)} A`);
    limits[n] = {
      limit: fmt(l.limit),
      peak: fmt(l.peak),
      ...(l.peakPerPhase ? { peakPerPhaseA: l.peakPerPhase.map((a) => round(a)) } : {}),
      judgedS: l.judgedSeconds,
      lagS: l.lagSeconds,
    };
  }
  // An interval outside the simulated window (a shortened day) is not judged.
  const seen = k.dr.filter((d) => d.seconds > 0);
  const dr =
    seen.length > 0
      ? {
          intervals: seen.map((d) => ({
            id: d.id,
            limitKw: round(d.limitW / 1000),
            compliancePct: d.seconds > 0 ? round((100 * (d.seconds - d.secondsOver)) / d.seconds) : 0,
            responseS: d.responseSeconds,
            peakKw: round(d.peakW / 1000),
          })),
          compliancePct: round(
            (100 * seen.reduce((s, d) => s + d.seconds - d.secondsOver, 0)) /
              Math.max(
                1,
                seen.reduce((s, d) => s + d.seconds, 0),
              ),
          ),
          responseS: {
            p50: percentile(
              seen.map((d) => d.responseSeconds),
              0.5,
            ),
            p99: percentile(
              seen.map((d) => d.responseSeconds),
              0.99,
            ),
          },
          failures: seen.filter((d) => d.responseSeconds === null).length,
        }
      : undefined;
  return {
    name,
    overLimitJudgedS: k.judgedSeconds,
    overLimitLagS: k.lagSeconds,
    limits,
    peakImportKw: round(k.peakImportW / 1000),
    deliveredKwh: round(k.deliveredWh / 1000),
    deadlinesTotal: k.deadlinesTotal,
    deadlinesFeasible: k.deadlinesFeasible,
    deadlinesMissed: k.deadlinesMissed,
    energyShortfallKwh: round(k.shortfallWh / 1000),
    solarSelfConsumptionPct: k.pvWh > 0 ? round((100 * Math.max(0, k.pvWh - k.exportWh)) / k.pvWh) : 0,
    costEur: round(k.costEur, 2),
    ...(dr ? { dr } : {}),
    misses: k.misses,
    wallMs,
  };
}
