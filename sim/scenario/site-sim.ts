import type { GatewayConfig } from '../../src/config/schema.js';
import { buildCircuitTree, type CircuitTree, toSitePhases } from '../../src/control/circuit-tree.js';
import type { VirtualClock } from '../../src/model/clock.js';
import type { EvseSpec, PhaseValues } from '../../src/model/site.js';
import { SitePhysics } from '../site/physics.js';
import { SimVehicle } from '../site/vehicle.js';
import type { ScenarioDay, ScenarioVehicle } from './types.js';

export interface SimEvse {
  readonly spec: EvseSpec;
  readonly path: readonly string[];
  offeredA: number;
  vehicle?: SimVehicle;
  visit?: ScenarioVehicle;
  sessionNo: number;
  lastPublishedA: number;
  lastPublishAt: number;
}

/** What the controller under test sees and how it acts (bus adapter or direct). */
export interface SimObserver {
  plugged?(evse: SimEvse, visit: ScenarioVehicle, now: number): void;
  unplugged?(evse: SimEvse, visit: ScenarioVehicle, now: number): void;
  /** Called every second after the physics step with the meter values. */
  metered?(sim: SiteSim, now: number): void;
}

export interface Kpis {
  violationSeconds: number;
  peakImportW: number;
  importWh: number;
  exportWh: number;
  pvWh: number;
  costEur: number;
  deadlinesTotal: number;
  deadlinesFeasible: number;
  deadlinesMissed: number;
  shortfallWh: number;
  /** Limits exceeded, by name, in seconds (incl. grace), for diagnosis. */
  readonly exceeded: Map<string, number>;
  /** Feasible deadlines that were missed, for diagnosis. */
  readonly misses: string[];
}

export function evseSpecs(config: GatewayConfig): EvseSpec[] {
  const out: EvseSpec[] = [];
  for (const c of config.chargers) {
    for (let k = 1; k <= c.connectors; k++) {
      out.push({
        id: `${c.id}/${k}`,
        chargerId: c.id,
        connectorId: k,
        protocol: 'sim',
        circuitId: c.circuit,
        phaseRotation: c.phaseRotation,
        phases: c.phases,
        minCurrentA: c.minCurrentA,
        maxCurrentA: c.maxCurrentA,
        voltageV: config.site.voltageV,
        bidirectional: c.bidirectional,
        priority: c.priority,
      });
    }
  }
  return out;
}

/**
 * The physical site of a scenario day at 1 s resolution: building load,
 * PV, battery, vehicles that follow their offered current after their own
 * response delay, and the limits every node of the circuit tree must keep.
 * The controller under test only ever acts through `command()` /
 * `commandBattery()`; the KPIs are measured here, never by the controller.
 */
export class SiteSim {
  readonly physics: SitePhysics;
  readonly tree: CircuitTree;
  readonly evses = new Map<string, SimEvse>();
  readonly kpis: Kpis = {
    violationSeconds: 0,
    peakImportW: 0,
    importWh: 0,
    exportWh: 0,
    pvWh: 0,
    costEur: 0,
    deadlinesTotal: 0,
    deadlinesFeasible: 0,
    deadlinesMissed: 0,
    shortfallWh: 0,
    exceeded: new Map(),
    misses: [],
  };
  readonly voltageV: number;
  batteryW = 0;
  batterySetW = 0;
  batteryWh = 0;
  private readonly arrivals: ScenarioVehicle[];
  private nextArrival = 0;
  private violationRun = 0;
  gridW = 0;
  gridA: PhaseValues = [0, 0, 0];
  pvW = 0;

  constructor(
    readonly day: ScenarioDay,
    readonly config: GatewayConfig,
    readonly clock: VirtualClock,
    private readonly observer: SimObserver,
    seed: number,
  ) {
    this.voltageV = config.site.voltageV;
    this.physics = new SitePhysics({
      clock,
      seed,
      voltageV: this.voltageV,
      baseLoadW: day.baseLoadW,
      baseLoadNoiseW: day.baseLoadNoiseW,
      pvPeakW: day.pvPeakW,
    });
    this.tree = buildCircuitTree({ fuseA: config.site.fuseA, circuits: config.site.circuits });
    for (const spec of evseSpecs(config)) {
      this.evses.set(spec.id, {
        spec,
        path: this.tree.pathOf(spec.circuitId),
        offeredA: 0,
        sessionNo: 0,
        lastPublishedA: -1,
        lastPublishAt: 0,
      });
    }
    this.arrivals = [...day.vehicles].sort((a, b) => a.arriveAt - b.arriveAt);
    if (day.battery) this.batteryWh = (day.battery.capacityWh * day.battery.socPct) / 100;
  }

  get batterySocPct(): number {
    return this.day.battery ? (100 * this.batteryWh) / this.day.battery.capacityWh : 0;
  }

  /** The charger offers a new current limit to whatever is plugged in (0 = paused). */
  command(evseId: string, currentA: number): void {
    const e = this.evses.get(evseId);
    if (!e) return;
    e.offeredA = currentA;
    e.vehicle?.offer(currentA, this.clock.now());
  }

  commandBattery(powerW: number): void {
    this.batterySetW = powerW;
  }

  /** One second of physics at `now`. */
  step(now: number): void {
    const day = this.day;
    // Arrivals and departures.
    while (
      this.nextArrival < this.arrivals.length &&
      (this.arrivals[this.nextArrival] as ScenarioVehicle).arriveAt <= now
    ) {
      const v = this.arrivals[this.nextArrival++] as ScenarioVehicle;
      const e = this.evses.get(v.evseId);
      if (!e || e.vehicle) continue;
      e.visit = v;
      e.sessionNo++;
      e.vehicle = new SimVehicle(
        {
          id: v.id,
          capacityWh: v.capacityWh,
          socPct: v.socPct,
          maxCurrentA: Math.min(v.maxCurrentA, e.spec.maxCurrentA),
          phases: e.spec.phases === 1 ? 1 : v.phases,
          responseDelayMs: v.responseDelayMs,
          overdrawA: v.overdrawA,
          departureAt: v.departAt,
          ...(v.neededWh !== undefined ? { neededWh: v.neededWh } : {}),
        },
        now,
      );
      e.vehicle.offer(e.offeredA, now);
      this.observer.plugged?.(e, v, now);
    }
    for (const e of this.evses.values()) {
      if (!e.vehicle || !e.visit || e.visit.departAt > now) continue;
      e.vehicle.step(now, this.voltageV);
      this.account(e.visit, e.vehicle);
      const visit = e.visit;
      e.vehicle = undefined;
      e.visit = undefined;
      this.physics.removeLoad(e.spec.id);
      this.observer.unplugged?.(e, visit, now);
    }
    for (const s of day.loadSteps) if (s.at <= now && s.at > now - 1000) this.physics.setBaseLoadStep(s.w);

    // Loads of this second.
    const nodeA = new Map<string, [number, number, number]>();
    const nodeW = new Map<string, number>();
    for (const e of this.evses.values()) {
      if (!e.vehicle) continue;
      e.vehicle.step(now, this.voltageV);
      const w = e.vehicle.powerW(this.voltageV);
      const cur = e.vehicle.phaseCurrents();
      this.physics.setLoad(e.spec.id, w, cur, e.spec.phaseRotation);
      if (w === 0) continue;
      const site = toSitePhases(cur, e.spec.phaseRotation);
      for (const n of e.path) {
        let a = nodeA.get(n);
        if (!a) {
          a = [0, 0, 0];
          nodeA.set(n, a);
        }
        a[0] += site[0];
        a[1] += site[1];
        a[2] += site[2];
        nodeW.set(n, (nodeW.get(n) ?? 0) + w);
      }
    }
    if (day.battery) {
      const b = day.battery;
      let w = Math.max(-b.maxDischargeW, Math.min(b.maxChargeW, this.batterySetW));
      if (w > 0 && this.batteryWh >= b.capacityWh) w = 0;
      if (w < 0 && this.batteryWh <= 0) w = 0;
      this.batteryW = w;
      this.batteryWh = Math.max(0, Math.min(b.capacityWh, this.batteryWh + w / 3600));
      const pa = w / (3 * this.voltageV);
      this.physics.setLoad('battery', w, [pa, pa, pa]);
    }
    this.physics.step();
    this.gridW = this.physics.gridPowerW();
    this.gridA = this.physics.gridCurrentsA();
    this.pvW = this.physics.pvPowerW(now);

    // Limits: every node of the tree per phase, node power, site fuse, contract.
    let violated = false;
    const over = (name: string) => {
      violated = true;
      this.kpis.exceeded.set(name, (this.kpis.exceeded.get(name) ?? 0) + 1);
    };
    const fuse = this.config.site.fuseA;
    if (fuse !== undefined && this.gridA.some((a) => Math.abs(a) > fuse + 0.05)) over('site fuse');
    if (this.gridW > this.config.site.limitW + 1) over('site contract');
    const cap = day.importCapW?.(now);
    if (cap !== undefined && this.gridW > cap + 1) over('import cap');
    for (const [id, a] of nodeA) {
      if (id === this.tree.root) continue;
      const node = this.tree.nodes.get(id);
      if (!node) continue;
      if (a.some((x, p) => x > (node.maxPhaseCurrentsA[p] as number) + 0.05)) over(`circuit ${id}`);
      if (node.maxPowerW !== undefined && (nodeW.get(id) ?? 0) > node.maxPowerW + 1) over(`circuit ${id} power`);
    }
    if (violated) {
      this.violationRun++;
      if (this.violationRun > 1) this.kpis.violationSeconds++;
    } else this.violationRun = 0;

    const k = this.kpis;
    if (this.gridW > k.peakImportW) k.peakImportW = this.gridW;
    if (this.gridW >= 0) {
      k.importWh += this.gridW / 3600;
      k.costEur += (this.gridW / 3_600_000) * day.priceEurPerKwh(now);
    } else {
      k.exportWh += -this.gridW / 3600;
      k.costEur -= (-this.gridW / 3_600_000) * day.feedInEurPerKwh;
    }
    k.pvWh += this.pvW / 3600;
    this.observer.metered?.(this, now);
  }

  private account(v: ScenarioVehicle, vehicle: SimVehicle): void {
    if (v.neededWh === undefined) return;
    const k = this.kpis;
    k.deadlinesTotal++;
    const evse = this.evses.get(v.evseId);
    const maxA = Math.min(v.maxCurrentA, evse?.spec.maxCurrentA ?? v.maxCurrentA);
    const phases = evse?.spec.phases === 1 ? 1 : v.phases;
    // Feasible for the vehicle alone: full power from arrival (after its first response) to departure.
    const hours = Math.max(0, v.departAt - v.arriveAt - v.responseDelayMs - 2000) / 3_600_000;
    const possibleWh = Math.min(maxA * phases * this.voltageV * hours, v.capacityWh * (1 - v.socPct / 100));
    const feasible = v.neededWh <= possibleWh;
    if (feasible) k.deadlinesFeasible++;
    const short = Math.max(0, v.neededWh - vehicle.deliveredWh);
    k.shortfallWh += short;
    if (feasible && short > 10) {
      k.deadlinesMissed++;
      k.misses.push(
        `${v.id}@${v.evseId}: ${(vehicle.deliveredWh / 1000).toFixed(1)}/${(v.neededWh / 1000).toFixed(1)} kWh, ${maxA} A ${phases}p, ` +
          `${new Date(v.arriveAt).toISOString().slice(11, 16)}-${new Date(v.departAt).toISOString().slice(11, 16)}, delay ${v.responseDelayMs} ms`,
      );
    }
  }
}
