import type { GatewayConfig, GatewayConfigInput } from '../../src/config/schema.js';
import type { BoundPolicy } from '../../src/model/policy.js';

/** One vehicle visit of a simulated day. */
export interface ScenarioVehicle {
  readonly id: string;
  readonly evseId: string;
  readonly idTag: string;
  readonly arriveAt: number;
  readonly departAt: number;
  readonly capacityWh: number;
  readonly socPct: number;
  /** The on-board charger's own limit, A. */
  readonly maxCurrentA: number;
  readonly phases: 1 | 3;
  /** Time the vehicle takes to follow a new current limit, ms. */
  readonly responseDelayMs: number;
  /** How far the vehicle draws above its set-point, A. */
  readonly overdrawA: number;
  /** Energy the fleet needs by departure, Wh (undefined: no deadline). */
  readonly neededWh?: number;
  /** The vehicle announces its phases (OCPP 2.x); otherwise they are learnt from measurement. */
  readonly announcesPhases: boolean;
}

export interface ScenarioBattery {
  readonly id: string;
  readonly capacityWh: number;
  readonly socPct: number;
  readonly maxChargeW: number;
  readonly maxDischargeW: number;
}

/** Everything that happens on one simulated day, identical for every controller. */
export interface ScenarioDay {
  /** The site as a gridkeeper config file would describe it (validated by the real schema). */
  readonly config: GatewayConfigInput;
  readonly startAt: number;
  readonly endAt: number;
  readonly vehicles: readonly ScenarioVehicle[];
  /** Mean building load, W, and its random variation. */
  readonly baseLoadW: number;
  readonly baseLoadNoiseW: number;
  /** Slow changes of the building load: from `at` the load is `w` above the mean. */
  readonly loadSteps: ReadonlyArray<{ readonly at: number; readonly w: number }>;
  readonly pvPeakW: number;
  readonly battery?: ScenarioBattery;
  /**
   * A time-varying import cap (e.g. a demand-response event), W; exceeding it counts as a
   * violation like any other limit. Undefined at a time: no cap.
   */
  readonly importCapW?: (ts: number) => number | undefined;
  /**
   * Extra gridkeeper policies for this day (e.g. the grid-signal policy fed with the day's DR
   * events), bound like the ones in `src/cli/compose.ts`.
   */
  readonly policies?: (ctx: { readonly config: GatewayConfig; readonly now: () => number }) => BoundPolicy[];
  /** Import price at a time, EUR/kWh. */
  readonly priceEurPerKwh: (ts: number) => number;
  readonly feedInEurPerKwh: number;
}

export interface ScenarioBuildOptions {
  readonly seed: number;
  /** Override every vehicle's response delay: one value or a [min, max] range, ms. */
  readonly responseDelayMs?: number | readonly [number, number];
}

/**
 * A scenario is one file in `sim/scenario/scenarios/` exporting `scenario`.
 * The runner finds it by name; nothing else needs to change to add one.
 */
export interface ScenarioDefinition {
  readonly name: string;
  readonly description: string;
  build(opts: ScenarioBuildOptions): ScenarioDay;
}

/** KPIs of one controller on one day (the `--json` shape). */
export interface ControllerKpis {
  readonly name: string;
  readonly violationSeconds: number;
  readonly peakImportKw: number;
  readonly deadlinesTotal: number;
  readonly deadlinesFeasible: number;
  readonly deadlinesMissed: number;
  readonly energyShortfallKwh: number;
  readonly solarSelfConsumptionPct: number;
  readonly costEur: number;
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly controllers: ControllerKpis[];
  /** How the simulated vehicles behaved (response delays are per vehicle). */
  readonly vehicles: {
    readonly count: number;
    readonly responseDelayMs: { readonly min: number; readonly p50: number; readonly max: number };
    readonly overdrawing: number;
  };
  readonly seed: number;
  readonly simulatedHours: number;
  readonly wallMs: number;
}
