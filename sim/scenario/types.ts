import type { PhaseRotation } from '../../src/model/site.js';

/** A circuit node below the grid connection (feeder, sub-distribution). */
export interface SiteCircuit {
  readonly id: string;
  readonly parent: string;
  /** Per-phase current limit (fuse / cable), A. */
  readonly maxCurrentA: number;
}

/** One charger as the installer wired it. */
export interface SiteCharger {
  readonly id: string;
  readonly circuit: string;
  readonly phases: 1 | 3;
  readonly phaseRotation: PhaseRotation;
  readonly minCurrentA: number;
  readonly maxCurrentA: number;
}

/** The physical site: its connection, circuits and chargers (both controllers get the same). */
export interface SiteDescription {
  readonly id: string;
  /** Contracted import, W. */
  readonly limitW: number;
  /** Main fuse per phase, A. */
  readonly fuseA: number;
  readonly voltageV: number;
  readonly circuits: readonly SiteCircuit[];
  readonly chargers: readonly SiteCharger[];
}

/** One vehicle visit of a simulated day. */
export interface ScenarioVehicle {
  readonly id: string;
  readonly chargerId: string;
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
  /** The vehicle stops drawing when offered less than this, A (IEC 61851: 6 A; some cars want more). */
  readonly minCurrentA: number;
  /** Energy the fleet needs by departure, Wh (undefined: no deadline). */
  readonly neededWh?: number;
}

/** An import limit the utility sends for an interval (demand response), W at the site meter. */
export interface DrInterval {
  readonly id: string;
  readonly start: number;
  readonly end: number;
  readonly importLimitW: number;
  /** When the utility publishes it (default: at the start of the day, i.e. day-ahead). */
  readonly announcedAt?: number;
}

/** Everything that happens on one simulated day, identical for every controller. */
export interface ScenarioDay {
  readonly site: SiteDescription;
  readonly startAt: number;
  readonly endAt: number;
  readonly vehicles: readonly ScenarioVehicle[];
  /** Mean building load, W, and its random variation. */
  readonly baseLoadW: number;
  readonly baseLoadNoiseW: number;
  /** Changes of the building load outside any controller: from `at` the load is `w` above the mean. */
  readonly loadSteps: ReadonlyArray<{ readonly at: number; readonly w: number }>;
  /** PV peak at noon, W (0: no PV); measured by its own meter. */
  readonly pvPeakW: number;
  /** Demand-response import limits from the utility (dr-day). */
  readonly dr?: readonly DrInterval[];
  /** Import price at a time, EUR/kWh. */
  readonly priceEurPerKwh: (ts: number) => number;
  readonly feedInEurPerKwh: number;
  /**
   * What the operator writes in gridkeeper's config for this site beyond the
   * wiring (policy settings), as plain config-file data.
   */
  readonly gatewaySettings?: Readonly<Record<string, unknown>>;
  /** Why the simulated window is what it is (e.g. stress is shortened to fit the time budget). */
  readonly note?: string;
}

export interface ScenarioBuildOptions {
  readonly seed: number;
  /** Override every vehicle's response delay: one value or a [min, max] range, ms. */
  readonly responseDelayMs?: number | readonly [number, number];
}

/** A scenario is one file in `sim/scenario/scenarios/` exporting `scenario`. */
export interface ScenarioDefinition {
  readonly name: string;
  readonly description: string;
  build(opts: ScenarioBuildOptions): ScenarioDay;
}
