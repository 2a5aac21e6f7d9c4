import { createRng } from '../site/rng.js';
import type {
  ScenarioBuildOptions,
  ScenarioDay,
  ScenarioDefinition,
  ScenarioVehicle,
  SiteCharger,
  SiteCircuit,
} from './types.js';

/**
 * Response delay of one AC vehicle: most follow the pilot 5–11 s after a new
 * limit (IEC 61851 pace), a few take up to 30 s.
 */
export function responseDelay(rng: () => number, opts: ScenarioBuildOptions): number {
  const o = opts.responseDelayMs;
  if (typeof o === 'number') return o;
  if (o) return Math.round(o[0] + rng() * (o[1] - o[0]));
  if (rng() < 0.92) return Math.round(5000 + rng() * 6000);
  return Math.round(11_000 + rng() * 19_000);
}

/** Some vehicles draw up to 1.5 A above their set-point. */
export function overdraw(rng: () => number): number {
  return rng() < 0.2 ? Math.round((0.5 + rng()) * 10) / 10 : 0;
}

/** Every vehicle stops below 6 A; some already below 8 A. */
export function stopBelow(rng: () => number): number {
  return rng() < 0.1 ? 8 : 6;
}

export function pick<T>(rng: () => number, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length) % items.length] as T;
}

/** Time-of-use tariff: cheap night, normal day, expensive early evening. */
export function touPrice(ts: number): number {
  const h = new Date(ts).getUTCHours();
  if (h < 6 || h >= 22) return 0.22;
  if (h >= 17 && h < 20) return 0.42;
  return 0.32;
}

export const HOUR = 3_600_000;
export const ROTATIONS = ['L1L2L3', 'L2L3L1', 'L3L1L2'] as const;

/** An AC charger as every scenario wires it: three phases, 6–32 A, rotation by `rotation` (mod 3). */
export function chargerRow(id: string, circuit: string, rotation: number): SiteCharger {
  return {
    id,
    circuit,
    phases: 3,
    phaseRotation: ROTATIONS[rotation % 3] ?? 'L1L2L3',
    minCurrentA: 6,
    maxCurrentA: 32,
  };
}

/**
 * The on-board charger of one vehicle, one draw: 16 A three-phase below
 * `mix[0]`, 32 A three-phase below `mix[1]`, else 32 A single-phase.
 */
export function drawPlug(
  rng: () => number,
  mix: readonly [number, number] = [0.6, 0.85],
): { maxCurrentA: number; phases: 1 | 3 } {
  const kind = rng();
  const [maxCurrentA, phases] = kind < mix[0] ? [16, 3] : kind < mix[1] ? [32, 3] : [32, 1];
  return { maxCurrentA, phases: phases as 1 | 3 };
}

/** What a scenario decides of one visit; times are rounded to the second. */
export type VisitPlan = Pick<
  ScenarioVehicle,
  'id' | 'chargerId' | 'idTag' | 'arriveAt' | 'departAt' | 'capacityWh' | 'socPct'
> & {
  readonly plug: Pick<ScenarioVehicle, 'maxCurrentA' | 'phases'>;
  /** A number, none (no deadline), or drawn after the vehicle's behaviour (keeps the RNG order). */
  readonly neededWh?: number | (() => number);
};

/**
 * One vehicle visit: the plan plus the vehicle's behaviour, drawn in this
 * order: response delay, overdraw, stop threshold, then `neededWh` when it is
 * a function.
 */
export function drawVisit(rng: () => number, opts: ScenarioBuildOptions, plan: VisitPlan): ScenarioVehicle {
  const vehicle = {
    id: plan.id,
    chargerId: plan.chargerId,
    idTag: plan.idTag,
    arriveAt: Math.round(plan.arriveAt / 1000) * 1000,
    departAt: Math.round(plan.departAt / 1000) * 1000,
    capacityWh: plan.capacityWh,
    socPct: plan.socPct,
    maxCurrentA: plan.plug.maxCurrentA,
    phases: plan.plug.phases,
    responseDelayMs: responseDelay(rng, opts),
    overdrawA: overdraw(rng),
    minCurrentA: stopBelow(rng),
  };
  const neededWh = typeof plan.neededWh === 'function' ? plan.neededWh() : plan.neededWh;
  return neededWh !== undefined ? { ...vehicle, neededWh } : vehicle;
}

/** The part of a visit a scenario draws itself; the fleet helper adds names, charger and plug. */
export type OwnVisit = Omit<VisitPlan, 'id' | 'chargerId' | 'idTag' | 'plug'>;

/**
 * A depot-style fleet: one charger per vehicle. Charger i is `<chargerPrefix><nn…>` on `circuit(i)`,
 * its vehicle `<vehiclePrefix>-<i+1>` with token `TAG<tagPrefix><i+1>`. The plug is drawn first,
 * then `visit(i)`, then the vehicle's behaviour, so every day keeps its random sequence.
 */
export function ownChargerFleet(
  rng: () => number,
  opts: ScenarioBuildOptions,
  o: {
    count: number;
    chargerPrefix: string;
    vehiclePrefix: string;
    tagPrefix: string;
    circuit: (i: number) => string;
    rotation?: (i: number) => number;
    visit: (i: number) => OwnVisit;
  },
): { chargers: SiteCharger[]; vehicles: ScenarioVehicle[] } {
  const width = String(o.count).length;
  const chargers: SiteCharger[] = [];
  const vehicles: ScenarioVehicle[] = [];
  for (let i = 0; i < o.count; i++) {
    const chargerId = `${o.chargerPrefix}${String(i + 1).padStart(width, '0')}`;
    chargers.push(chargerRow(chargerId, o.circuit(i), o.rotation ? o.rotation(i) : i));
    const plug = drawPlug(rng);
    const plan = {
      ...o.visit(i),
      id: `${o.vehiclePrefix}-${i + 1}`,
      chargerId,
      idTag: `TAG${o.tagPrefix}${i + 1}`,
      plug,
    };
    vehicles.push(drawVisit(rng, opts, plan));
  }
  return { chargers, vehicles };
}

/** Circuits straight below the connection, each with the same per-phase limit. */
export function feeders(maxCurrentA: number, ...ids: string[]): SiteCircuit[] {
  return ids.map((id) => ({ id, parent: 'site', maxCurrentA }));
}

/** A building load that rises by `w` at `from` and falls back at `until`. */
export function loadPulse(from: number, until: number, w: number): Array<{ at: number; w: number }> {
  return [
    { at: from, w },
    { at: until, w: 0 },
  ];
}

/**
 * What the site draws and makes outside any controller: the building's mean load with its random
 * variation, its load steps, and the PV peak at solar noon (0: no PV), W.
 */
export function outsideControl(
  baseLoadW: number,
  baseLoadNoiseW: number,
  loadSteps: ScenarioDay['loadSteps'],
  pvPeakW: number,
): Pick<ScenarioDay, 'baseLoadW' | 'baseLoadNoiseW' | 'loadSteps' | 'pvPeakW'> {
  return { baseLoadW, baseLoadNoiseW, loadSteps, pvPeakW };
}

/**
 * What every simulated day shares: the time-of-use tariff, 0.08 EUR/kWh
 * feed-in, and the gateway's load management with `marginW` (plus any other
 * policies of the scenario).
 */
export function dayDefaults(
  marginW: number,
  policies: Readonly<Record<string, unknown>> = {},
): Pick<ScenarioDay, 'priceEurPerKwh' | 'feedInEurPerKwh' | 'gatewaySettings'> {
  return {
    priceEurPerKwh: touPrice,
    feedInEurPerKwh: 0.08,
    gatewaySettings: { control: { policies: { loadManagement: { marginW }, ...policies } } },
  };
}

/** What a day's builder gets: midnight UTC of its date, the seeded random source and the options. */
export interface DayContext {
  readonly day: number;
  readonly rng: () => number;
  readonly opts: ScenarioBuildOptions;
}

/** A scenario day on `date` (midnight UTC), its random numbers seeded from the run's seed. */
export function scenarioDay(
  name: string,
  description: string,
  date: number,
  build: (c: DayContext) => ScenarioDay,
): ScenarioDefinition {
  return { name, description, build: (opts) => build({ day: date, rng: createRng(opts.seed), opts }) };
}
