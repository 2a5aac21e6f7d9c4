import type { Clock } from '../../src/model/clock.js';
import type { PhaseValues } from '../../src/model/site.js';
import { SimCharger } from '../devices/ocpp/charger.js';
import { SitePhysics } from '../site/physics.js';
import { SimVehicle } from '../site/vehicle.js';
import type { Activity } from './activity.js';
import { KpiLedger } from './kpis.js';
import { MeterServer } from './meter-server.js';
import type { ScenarioDay, ScenarioVehicle, SiteCharger } from './types.js';

/** The message logs a SimCharger keeps (tests read them; a day in the scenario only counts them). */
interface ChargerHistory {
  readonly received?: unknown[];
  readonly acked?: unknown[];
}

/**
 * How many messages a charger has handled, counted without keeping them: a
 * day's MeterValues (0.5 M at 40 chargers sampling every 5 s) held as
 * objects cost the run its time in garbage collection.
 */
class MessageHistory {
  private forgotten = 0;

  constructor(private readonly peer: ChargerHistory) {}

  /** Grows with every message the charger received or had answered. */
  get count(): number {
    return this.forgotten + (this.peer.received?.length ?? 0) + (this.peer.acked?.length ?? 0);
  }

  /** Drop the logged messages, keeping the count. */
  forget(): void {
    const { received, acked } = this.peer;
    this.forgotten += (received?.length ?? 0) + (acked?.length ?? 0);
    if (received) received.length = 0;
    if (acked) acked.length = 0;
  }
}

/** Modbus unit ids of the site's meters behind the one Modbus TCP gateway. */
export const GRID_METER_UNIT = 1;
export const PV_METER_UNIT = 2;

interface Visit {
  readonly v: ScenarioVehicle;
  readonly vehicle: SimVehicle;
}

export interface SimSiteOptions {
  readonly day: ScenarioDay;
  readonly clock: Clock;
  readonly seed: number;
  readonly activity: Activity;
}

/**
 * The simulated depot as the controller under test meets it: an Eastron grid
 * meter (and a PV meter) over Modbus TCP whose reading is base load + PV +
 * what the chargers really draw, OCPP chargers that connect to whatever
 * central system they are pointed at, and vehicles that arrive, follow their
 * limits late and leave. Its KPIs come from its own physics alone.
 */
export class SimSite {
  readonly physics: SitePhysics;
  readonly meter: MeterServer;
  readonly ledger: KpiLedger;
  readonly chargers = new Map<string, SimCharger>();
  private readonly specs = new Map<string, SiteCharger>();
  private readonly paths = new Map<string, string[]>();
  private readonly plugged = new Map<string, Visit>();
  private readonly arrivals: ScenarioVehicle[];
  private nextArrival = 0;
  private nextStep = 0;
  private readonly steps: ReadonlyArray<{ readonly at: number; readonly w: number }>;
  private stepW = 0;
  private readonly histories: MessageHistory[] = [];

  constructor(private readonly o: SimSiteOptions) {
    const { day } = o;
    this.physics = new SitePhysics({
      clock: o.clock,
      seed: o.seed,
      voltageV: day.site.voltageV,
      baseLoadW: day.baseLoadW,
      baseLoadNoiseW: day.baseLoadNoiseW,
      pvPeakW: day.pvPeakW,
    });
    this.meter = new MeterServer({
      voltageV: day.site.voltageV,
      clock: o.clock,
      activity: o.activity,
      read: (unit) => this.meterReading(unit),
    });
    this.ledger = new KpiLedger(day.site, day.priceEurPerKwh, day.feedInEurPerKwh, day.dr);
    const parents = new Map(day.site.circuits.map((c) => [c.id, c.parent]));
    for (const c of day.site.chargers) {
      this.specs.set(c.id, c);
      const path: string[] = [];
      for (let n: string | undefined = c.circuit; n && n !== 'site' && path.length < 32; n = parents.get(n)) {
        path.push(n);
      }
      this.paths.set(c.id, path);
    }
    this.arrivals = [...day.vehicles].sort((a, b) => a.arriveAt - b.arriveAt);
    this.steps = [...day.loadSteps].sort((a, b) => a.at - b.at);
  }

  private meterReading(unit: number) {
    const p = this.physics;
    const V = this.o.day.site.voltageV;
    if (unit === GRID_METER_UNIT) {
      return { powerW: p.gridPowerW(), currentsA: p.gridCurrentsA(), importWh: p.importWh, exportWh: p.exportWh };
    }
    if (unit === PV_METER_UNIT && this.o.day.pvPeakW > 0) {
      // A meter in the PV feed sees production as export (negative power), as installed.
      const w = p.pvPowerW();
      const a = w / (3 * V);
      return { powerW: -w, currentsA: [a, a, a] as PhaseValues, importWh: 0, exportWh: p.pvWh };
    }
    return undefined;
  }

  /** Start the meters (before the controller, which polls them). */
  async start(): Promise<void> {
    await this.meter.start();
  }

  /** Boot every charger against a central system (the gateway's proxy or the baseline's). */
  async connectChargers(csUrl: string): Promise<void> {
    for (const c of this.o.day.site.chargers) {
      const charger = new SimCharger({
        id: c.id,
        protocol: 'ocpp1.6',
        url: csUrl,
        clock: this.o.clock,
        physics: this.physics,
        connectors: 1,
        phaseRotation: c.phaseRotation,
        maxCurrentA: c.maxCurrentA,
        voltageV: this.o.day.site.voltageV,
        // Depot vans stay plugged in when full; they leave at their departure.
        stopWhenFull: false,
      });
      const history = new MessageHistory(charger as unknown as ChargerHistory);
      this.o.activity.watch(() => history.count);
      this.histories.push(history);
      this.chargers.set(c.id, charger);
    }
    await Promise.all([...this.chargers.values()].map((c) => c.start()));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.chargers.values()].map((c) => c.stop()));
    this.chargers.clear();
    await this.meter.stop();
  }

  /** The slowest response of a vehicle charging now, ms. */
  private slowestVehicleMs(): number {
    let ms = 0;
    for (const { v } of this.plugged.values()) ms = Math.max(ms, v.responseDelayMs);
    return ms;
  }

  /** One second of the site at `now`, after the chargers and the controller have run up to it. */
  tick(now: number): void {
    const day = this.o.day;
    for (const [id, visit] of this.plugged) {
      if (visit.v.departAt > now) continue;
      this.plugged.delete(id);
      const spec = this.specs.get(id);
      this.ledger.departed(visit.v, visit.vehicle.deliveredWh, spec?.maxCurrentA ?? 32, day.site.voltageV);
      void this.chargers.get(id)?.unplug(1);
    }
    while (this.nextArrival < this.arrivals.length && (this.arrivals[this.nextArrival]?.arriveAt ?? 0) <= now) {
      const v = this.arrivals[this.nextArrival++] as ScenarioVehicle;
      const charger = this.chargers.get(v.chargerId);
      // A visit that ended before the window opened is not part of this day.
      if (!charger || this.plugged.has(v.chargerId) || v.departAt <= now) continue;
      const spec = this.specs.get(v.chargerId);
      const vehicle = new SimVehicle(
        {
          id: v.id,
          capacityWh: v.capacityWh,
          socPct: v.socPct,
          maxCurrentA: Math.min(v.maxCurrentA, spec?.maxCurrentA ?? v.maxCurrentA),
          phases: spec?.phases === 1 ? 1 : v.phases,
          responseDelayMs: v.responseDelayMs,
          overdrawA: v.overdrawA,
          minCurrentA: v.minCurrentA,
          ...(v.neededWh !== undefined ? { neededWh: v.neededWh } : {}),
        },
        now,
      );
      this.plugged.set(v.chargerId, { v, vehicle });
      void charger.plugIn(vehicle, v.idTag, 1);
    }
    while (this.nextStep < this.steps.length && (this.steps[this.nextStep]?.at ?? 0) <= now) {
      const s = this.steps[this.nextStep++] as { at: number; w: number };
      if (s.w > this.stepW) this.ledger.uncontrolledStep(now, this.slowestVehicleMs());
      this.stepW = s.w;
      this.physics.setBaseLoadStep(s.w);
    }
    for (const h of this.histories) h.forget();
    this.physics.step();
    this.ledger.second({
      now,
      gridW: this.physics.gridPowerW(),
      gridA: this.physics.gridCurrentsA(),
      pvW: this.physics.pvPowerW(now),
      circuitA: this.circuitCurrents(),
    });
  }

  private circuitCurrents(): Map<string, PhaseValues> {
    const out = new Map<string, [number, number, number]>();
    for (const [id, path] of this.paths) {
      const load = this.physics.loadOf(`${id}/1`);
      if (!load) continue;
      for (const n of path) {
        let a = out.get(n);
        if (!a) {
          a = [0, 0, 0];
          out.set(n, a);
        }
        for (let p = 0; p < 3; p++) a[p] = (a[p] as number) + (load.currentsA[p] as number);
      }
    }
    return out;
  }

  /** How the simulated vehicles behave (reported beside the KPIs). */
  vehicleSummary() {
    const vs = this.o.day.vehicles;
    const delays = vs.map((v) => v.responseDelayMs).sort((a, b) => a - b);
    return {
      count: vs.length,
      responseDelayMs: {
        min: delays[0] ?? 0,
        p50: delays[Math.floor(delays.length / 2)] ?? 0,
        max: delays[delays.length - 1] ?? 0,
      },
      overdrawing: vs.filter((v) => v.overdrawA > 0).length,
      stopBelow8A: vs.filter((v) => v.minCurrentA > 6).length,
    };
  }
}
