import type { Clock, TimerHandle } from '../../../src/model/clock.js';
import type { PhaseRotation } from '../../../src/model/site.js';
import { createRng } from '../../site/rng.js';
import type { SitePhysics } from '../../site/physics.js';
import { SimVehicle } from '../../site/vehicle.js';
import { SimCharger } from './charger.js';
import type { OcppVersion } from './wire.js';

export interface DepotChargerSpec {
  readonly id: string;
  readonly protocol: OcppVersion;
  readonly phaseRotation?: PhaseRotation;
  readonly bidirectional?: boolean;
  readonly maxCurrentA?: number;
  readonly password?: string;
}

export interface SimDepotOptions {
  /** Gateway OCPP base URL (e.g. `ws://127.0.0.1:9000/ocpp`). */
  readonly url: string;
  readonly clock: Clock;
  readonly physics?: SitePhysics;
  readonly chargers: readonly DepotChargerSpec[];
  /** Overrides every charger's factory meter value period (60 s), ms (demo: 2000). */
  readonly meterIntervalMs?: number;
  /** Overrides every charger's factory measurands (1.6 notation). */
  readonly sampledData?: readonly string[];
  /** Pause between a vehicle leaving and the next arriving, ms. */
  readonly arrivalGapMs?: number;
  /** How long a vehicle stays, ms. */
  readonly dwellMs?: number;
  readonly seed?: number;
}

/**
 * The demo's chargers: one SimCharger per spec, each with a vehicle plugged
 * in right after boot and a new one arriving some time after the previous
 * one left (full or departed). Vehicles are a mix, as on a real site: AC
 * ones follow a new limit 5–11 s late (V2G units in under a second), one
 * in five draws 1.5 A over its set-point, and one in five stops below 8 A
 * (the charger then reports SuspendedEV).
 */
export class SimDepot {
  readonly chargers: SimCharger[];
  private readonly rng: () => number;
  private readonly timers = new Set<TimerHandle>();
  private watch?: TimerHandle;
  private stopped = false;
  private vehicleSeq = 0;

  constructor(private readonly opts: SimDepotOptions) {
    this.rng = createRng(opts.seed ?? 7);
    this.chargers = opts.chargers.map(
      (c) =>
        new SimCharger({
          id: c.id,
          protocol: c.protocol,
          url: opts.url,
          clock: opts.clock,
          ...(opts.physics ? { physics: opts.physics } : {}),
          ...(c.phaseRotation ? { phaseRotation: c.phaseRotation } : {}),
          ...(c.maxCurrentA ? { maxCurrentA: c.maxCurrentA } : {}),
          ...(c.password !== undefined ? { password: c.password } : {}),
          bidirectional: c.bidirectional ?? false,
          ...(opts.meterIntervalMs !== undefined ? { meterIntervalMs: opts.meterIntervalMs } : {}),
          ...(opts.sampledData ? { sampledData: opts.sampledData } : {}),
        }),
    );
  }

  async start(): Promise<void> {
    this.stopped = false;
    await Promise.all(this.chargers.map((c) => c.start()));
    this.chargers.forEach((c, i) => {
      this.later(() => void this.arrive(c), 500 + i * 300);
    });
    // Vehicles that left (full or departed) make room for the next one.
    this.watch = this.opts.clock.setInterval(() => {
      for (const c of this.chargers) {
        const conn = c.connectors[0];
        if (!conn || conn.vehicle || conn.txPending || this.pendingArrival.has(c)) continue;
        this.pendingArrival.add(c);
        this.later(() => {
          this.pendingArrival.delete(c);
          void this.arrive(c);
        }, this.opts.arrivalGapMs ?? 60_000);
      }
    }, 5000);
  }

  private readonly pendingArrival = new Set<SimCharger>();

  async stop(): Promise<void> {
    this.stopped = true;
    this.opts.clock.clearInterval(this.watch);
    for (const t of this.timers) this.opts.clock.clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.chargers.map((c) => c.stop()));
  }

  private later(fn: () => void, ms: number): void {
    const t = this.opts.clock.setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  private async arrive(c: SimCharger): Promise<void> {
    const conn = c.connectors[0];
    if (!conn || conn.vehicle || !c.booted) return;
    const now = this.opts.clock.now();
    const bidirectional = c.opts.bidirectional ?? false;
    const threePhase = this.rng() > 0.25;
    const v = new SimVehicle(
      {
        id: `EV${++this.vehicleSeq}`,
        capacityWh: 50_000 + Math.round(this.rng() * 30_000),
        socPct: 15 + Math.round(this.rng() * 40),
        maxCurrentA: threePhase ? 16 : 32,
        phases: threePhase ? 3 : 1,
        responseDelayMs: bidirectional ? 800 : 5000 + Math.round(this.rng() * 6000),
        overdrawA: this.rng() > 0.8 ? 1.5 : 0,
        minCurrentA: this.rng() > 0.8 ? 8 : 6,
        departureAt: now + (this.opts.dwellMs ?? 8 * 3_600_000),
        neededWh: 20_000,
        bidirectional,
      },
      now,
    );
    await c.plugIn(v, `TAG-${v.spec.id}`);
  }
}
