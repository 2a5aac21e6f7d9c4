import type { PhaseValues } from '../../src/model/site.js';
import type { DrInterval, ScenarioVehicle } from './types.js';

/** Seconds over one limit, split by cause (see "Lessons from the field"). */
export interface LimitKpi {
  readonly limit: number;
  readonly unit: 'A' | 'W';
  /** Highest value seen (the most loaded phase for currents). */
  peak: number;
  /** Highest current per phase [L1, L2, L3] (site phases), for current limits. */
  readonly peakPerPhase?: [number, number, number];
  /** Over the limit while vehicles could not yet follow an uncontrolled load step (lag + 1 s): reported raw. */
  lagSeconds: number;
  /** Every other second over the limit: the controller is judged on these. */
  judgedSeconds: number;
}

export interface DrIntervalKpi {
  readonly id: string;
  readonly limitW: number;
  seconds: number;
  secondsOver: number;
  /** Seconds from the start until the site meter first showed the limit held; null: never (a failure). */
  responseSeconds: number | null;
  peakW: number;
}

export interface SiteKpis {
  readonly limits: Record<string, LimitKpi>;
  /** Seconds in which any limit was over, by cause. */
  lagSeconds: number;
  judgedSeconds: number;
  peakImportW: number;
  importWh: number;
  exportWh: number;
  pvWh: number;
  costEur: number;
  deadlinesTotal: number;
  deadlinesFeasible: number;
  deadlinesMissed: number;
  shortfallWh: number;
  deliveredWh: number;
  readonly misses: string[];
  readonly dr: DrIntervalKpi[];
}

export interface SecondSample {
  readonly now: number;
  readonly gridW: number;
  readonly gridA: PhaseValues;
  readonly pvW: number;
  /** Per-phase current through each circuit node, A. */
  readonly circuitA: ReadonlyMap<string, PhaseValues>;
}

/**
 * The site's own accounting, second by second, from its physics: no value
 * here ever comes from the controller under test.
 */
export class KpiLedger {
  readonly k: SiteKpis;
  private lagUntil = Number.NEGATIVE_INFINITY;

  constructor(
    site: {
      readonly limitW: number;
      readonly fuseA: number;
      readonly circuits: ReadonlyArray<{ id: string; maxCurrentA: number }>;
    },
    private readonly price: (ts: number) => number,
    private readonly feedIn: number,
    private readonly drIntervals: readonly DrInterval[] = [],
  ) {
    const limits: Record<string, LimitKpi> = {
      'site fuse': {
        limit: site.fuseA,
        unit: 'A',
        peak: 0,
        peakPerPhase: [0, 0, 0],
        lagSeconds: 0,
        judgedSeconds: 0,
      },
      'site contract': { limit: site.limitW, unit: 'W', peak: 0, lagSeconds: 0, judgedSeconds: 0 },
    };
    for (const c of site.circuits) {
      limits[`circuit ${c.id}`] = {
        limit: c.maxCurrentA,
        unit: 'A',
        peak: 0,
        peakPerPhase: [0, 0, 0],
        lagSeconds: 0,
        judgedSeconds: 0,
      };
    }
    this.k = {
      limits,
      lagSeconds: 0,
      judgedSeconds: 0,
      peakImportW: 0,
      importWh: 0,
      exportWh: 0,
      pvWh: 0,
      costEur: 0,
      deadlinesTotal: 0,
      deadlinesFeasible: 0,
      deadlinesMissed: 0,
      shortfallWh: 0,
      deliveredWh: 0,
      misses: [],
      dr: drIntervals.map((d) => ({
        id: d.id,
        limitW: d.importLimitW,
        seconds: 0,
        secondsOver: 0,
        responseSeconds: null,
        peakW: 0,
      })),
    };
  }

  /**
   * Load outside every controller stepped up at `now`: until the slowest
   * charging vehicle can have followed a shedding command (+ 1 s to see the
   * step), time over a limit is lag, not the controller's fault.
   */
  uncontrolledStep(now: number, slowestVehicleMs: number): void {
    this.lagUntil = Math.max(this.lagUntil, now + slowestVehicleMs + 1000);
  }

  /** One second of the site. */
  second(s: SecondSample): void {
    const lag = s.now <= this.lagUntil;
    let over = false;
    const check = (name: string, value: number, tolerance: number, phases?: PhaseValues) => {
      const l = this.k.limits[name];
      if (!l) return;
      if (phases && l.peakPerPhase) {
        for (let p = 0; p < 3; p++) l.peakPerPhase[p] = Math.max(l.peakPerPhase[p] as number, Math.abs(phases[p] ?? 0));
      }
      if (value > l.peak) l.peak = value;
      if (value > l.limit + tolerance) {
        over = true;
        if (lag) l.lagSeconds++;
        else l.judgedSeconds++;
      }
    };
    check('site fuse', Math.max(...s.gridA.map(Math.abs)), 0.05, s.gridA);
    check('site contract', s.gridW, 1);
    for (const [id, a] of s.circuitA) check(`circuit ${id}`, Math.max(...a), 0.05, a);
    if (over) {
      if (lag) this.k.lagSeconds++;
      else this.k.judgedSeconds++;
    }
    const k = this.k;
    if (s.gridW > k.peakImportW) k.peakImportW = s.gridW;
    if (s.gridW >= 0) {
      k.importWh += s.gridW / 3600;
      k.costEur += (s.gridW / 3_600_000) * this.price(s.now);
    } else {
      k.exportWh += -s.gridW / 3600;
      k.costEur -= (-s.gridW / 3_600_000) * this.feedIn;
    }
    k.pvWh += s.pvW / 3600;
    this.drSecond(s);
  }

  private drSecond(s: SecondSample): void {
    this.drIntervals.forEach((d, i) => {
      if (s.now < d.start || s.now >= d.end) return;
      const kpi = this.k.dr[i] as DrIntervalKpi;
      kpi.seconds++;
      if (s.gridW > kpi.peakW) kpi.peakW = s.gridW;
      // 1 % of the limit for meter noise, as utilities settle it.
      if (s.gridW > d.importLimitW * 1.01) kpi.secondsOver++;
      else if (kpi.responseSeconds === null) kpi.responseSeconds = Math.round((s.now - d.start) / 1000);
    });
  }

  /** A vehicle left: was its need met, and could it have been? */
  departed(v: ScenarioVehicle, deliveredWh: number, chargerMaxA: number, voltageV: number): void {
    const k = this.k;
    k.deliveredWh += deliveredWh;
    if (v.neededWh === undefined) return;
    k.deadlinesTotal++;
    const maxA = Math.min(v.maxCurrentA, chargerMaxA);
    const hours = Math.max(0, v.departAt - v.arriveAt - v.responseDelayMs - 60_000) / 3_600_000;
    const possibleWh = Math.min(maxA * v.phases * voltageV * hours, v.capacityWh * (1 - v.socPct / 100));
    const feasible = v.neededWh <= possibleWh;
    if (feasible) k.deadlinesFeasible++;
    const short = Math.max(0, v.neededWh - deliveredWh);
    k.shortfallWh += short;
    if (feasible && short > 100) {
      k.deadlinesMissed++;
      k.misses.push(
        `${v.id}@${v.chargerId}: ${(deliveredWh / 1000).toFixed(1)}/${(v.neededWh / 1000).toFixed(1)} kWh, ` +
          `${maxA} A ${v.phases}p, delay ${v.responseDelayMs} ms`,
      );
    }
  }
}
