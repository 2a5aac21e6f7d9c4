import ModbusSerial from 'modbus-serial';
import type { Clock, TimerHandle } from '../../src/model/clock.js';
import type { PhaseRotation } from '../../src/model/site.js';
import type { SiteDescription } from '../scenario/types.js';
import { sitePhase } from '../site/physics.js';
import { allocate, type BaselineSession } from './allocate.js';
import { CentralSystem, type ChargerView } from './central-system.js';

/** One entry of the fleet's charge plan: this id tag needs this much by then. */
export interface PlanEntry {
  readonly idTag: string;
  readonly departAt: number;
  readonly neededWh: number;
}

export interface BaselineOptions {
  readonly site: SiteDescription;
  readonly clock: Clock;
  readonly meterPort: number;
  readonly meterUnit: number;
  readonly plan: readonly PlanEntry[];
  /** The utility's import limit now (a simple external limit input), W. */
  readonly importLimitW?: (now: number) => number | undefined;
  readonly intervalMs?: number;
  readonly marginA?: number;
  readonly marginW?: number;
  readonly onActivity?: () => void;
}

/**
 * The fair baseline: a circuit-aware 30 s controller like today's
 * open-source EMSs. It is the chargers' central system (OCPP 1.6), reads the
 * same grid meter over Modbus, knows every phase, the fuse, the circuits
 * (with a margin) and the fleet's charge plan, and sets one
 * ChargePointMaxProfile per charger each round. Nothing of the gateway.
 */
export class BaselineController {
  readonly cs: CentralSystem;
  // modbus-serial is CommonJS: its client class is the default export's default.
  private readonly meter = new ModbusSerial.default();
  private timer?: TimerHandle;
  private busy = false;
  /** Learnt per charger: the vehicle takes less than offered (A), reset on a new transaction. */
  private readonly vehicleMaxA = new Map<string, { tx: number; a: number }>();
  rounds = 0;

  constructor(private readonly o: BaselineOptions) {
    this.cs = new CentralSystem(o.clock, o.onActivity);
  }

  get url(): string {
    return this.cs.url;
  }

  async start(): Promise<void> {
    await this.cs.start();
    await this.meter.connectTCP('127.0.0.1', { port: this.o.meterPort });
    this.meter.setID(this.o.meterUnit);
    this.meter.setTimeout(2000);
    this.timer = this.o.clock.setInterval(() => void this.round(), this.o.intervalMs ?? 30_000);
  }

  async stop(): Promise<void> {
    this.o.clock.clearInterval(this.timer);
    await new Promise<void>((resolve) => this.meter.close(() => resolve()));
    await this.cs.stop();
  }

  private async readMeter(): Promise<{ powerW: number; currentsA: [number, number, number] } | undefined> {
    try {
      const r = await this.meter.readInputRegisters(0, 0x36);
      const f = (addr: number) => r.buffer.readFloatBE(addr * 2);
      return { powerW: f(0x34), currentsA: [f(0x06), f(0x08), f(0x0a)] };
    } catch {
      return undefined;
    }
  }

  /** Phase currents a charger draws now on the site's phases, and how many phases its vehicle uses. */
  private drawOf(view: ChargerView, rotation: PhaseRotation): { site: number[]; phases: number[]; powerW: number } {
    const on = (terminal: number) => sitePhase(rotation, terminal);
    const V = this.o.site.voltageV;
    const site = [0, 0, 0];
    const own = view.currentsA ?? [0, 0, 0];
    let phases = own.map((a, i) => (a > 1 ? i : -1)).filter((i) => i >= 0);
    if (!view.currentsA && (view.powerW ?? 0) > 0) {
      // Un-phased power only: assume three phases.
      const a = (view.powerW ?? 0) / (3 * V);
      phases = [0, 1, 2];
      for (const i of phases) site[on(i)] = (site[on(i)] as number) + a;
    } else {
      for (let i = 0; i < 3; i++) site[on(i)] = (site[on(i)] as number) + (own[i] as number);
    }
    const powerW = view.powerW ?? own.reduce((s, a) => s + a * V, 0);
    return { site, phases: phases.map(on), powerW };
  }

  private async round(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      this.rounds++;
      const m = await this.readMeter();
      if (!m) return;
      const now = this.o.clock.now();
      const site = this.o.site;
      const V = site.voltageV;
      const marginA = this.o.marginA ?? 3;
      const marginW = this.o.marginW ?? 3000;
      const chargerA = [0, 0, 0];
      let chargerW = 0;
      const sessions: BaselineSession[] = [];
      const parents = new Map(site.circuits.map((c) => [c.id, c.parent]));
      for (const spec of site.chargers) {
        const view = this.cs.chargers.get(spec.id);
        if (!view) continue;
        const d = this.drawOf(view, spec.phaseRotation);
        for (let p = 0; p < 3; p++) chargerA[p] = (chargerA[p] as number) + (d.site[p] as number);
        chargerW += d.powerW;
        if (!view.tx) continue;
        const sitePhases =
          d.phases.length > 0 ? d.phases : spec.phases === 1 ? [sitePhase(spec.phaseRotation, 0)] : [0, 1, 2];
        const path: string[] = [];
        for (let n: string | undefined = spec.circuit; n && n !== 'site' && path.length < 32; n = parents.get(n)) {
          path.push(n);
        }
        const plan = this.o.plan.find((e) => e.idTag === view.tx?.idTag && e.departAt > now);
        const deliveredWh = Math.max(0, (view.registerWh ?? 0) - view.tx.meterStartWh);
        const leftWh = plan ? Math.max(0, plan.neededWh - deliveredWh) : 0;
        const hoursLeft = plan ? Math.max(0.05, (plan.departAt - now) / 3_600_000) : 0;
        const requiredA = plan ? (1.1 * leftWh) / (hoursLeft * V * sitePhases.length) : 0;
        const own = Math.max(...(view.currentsA ?? [0]));
        const learnt = this.learn(spec.id, view, own);
        const maxA = Math.min(spec.maxCurrentA, learnt);
        sessions.push({
          id: spec.id,
          sitePhases,
          minA: spec.minCurrentA,
          maxA,
          requiredA: Math.min(maxA, requiredA),
          // Deadline sessions first, least slack first; the others by arrival.
          order: plan ? hoursLeft - leftWh / (maxA * sitePhases.length * V) : 1e6 + view.tx.startedAt / 1e9,
          path,
        });
      }
      const building = m.currentsA.map((a, p) => a - (chargerA[p] as number));
      const buildingW = m.powerW - chargerW;
      const cap = this.o.importLimitW?.(now);
      const limitW = Math.min(site.limitW, cap ?? Number.POSITIVE_INFINITY);
      const circuitA = new Map<string, [number, number, number]>();
      for (const c of site.circuits)
        circuitA.set(c.id, [c.maxCurrentA - marginA, c.maxCurrentA - marginA, c.maxCurrentA - marginA]);
      const alloc = allocate(sessions, {
        phaseA: building.map((b) => site.fuseA - marginA - b) as [number, number, number],
        powerW: limitW - marginW - buildingW,
        circuitA,
        voltageV: V,
      });
      const writes: Array<Promise<boolean>> = [];
      for (const spec of site.chargers) {
        const view = this.cs.chargers.get(spec.id);
        if (!view?.booted) continue;
        const a = Math.floor(alloc.get(spec.id) ?? 0);
        if (view.limitA !== undefined && Math.abs(view.limitA - a) < 0.5) continue;
        writes.push(this.cs.setMaxCurrent(spec.id, a));
      }
      await Promise.all(writes);
    } finally {
      this.busy = false;
    }
  }

  /** A vehicle that takes clearly less than offered is capped at what it takes (+1 A) for its session. */
  private learn(id: string, view: ChargerView, drawnA: number): number {
    const tx = view.tx?.id ?? -1;
    const known = this.vehicleMaxA.get(id);
    if (known && known.tx !== tx) this.vehicleMaxA.delete(id);
    const offered = view.limitA ?? 0;
    const fresh = view.meterAt !== undefined && this.o.clock.now() - view.meterAt < 30_000;
    if (fresh && drawnA > 3 && drawnA < offered - 2) {
      this.vehicleMaxA.set(id, { tx, a: Math.ceil(drawnA) + 1 });
    }
    return this.vehicleMaxA.get(id)?.a ?? Number.POSITIVE_INFINITY;
  }
}
