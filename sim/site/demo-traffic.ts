import type { Clock, TimerHandle } from '../../src/model/clock.js';
import { createRng } from './rng.js';
import { SimVehicle, type VehicleSpec } from './vehicle.js';

/** What the traffic generator needs from a charger simulator. */
export interface TrafficCharger {
  readonly id: string;
  plugIn(vehicle: SimVehicle, idTag: string): Promise<void>;
  unplug(): Promise<void>;
}

export interface DemoTrafficOptions {
  readonly clock: Clock;
  readonly seed?: number;
  /** First arrival per charger, ms after start (staggered by index). */
  readonly firstArrivalMs?: number;
  readonly staggerMs?: number;
  /** A vehicle leaves when full or after this long, ms. */
  readonly dwellMs?: readonly [number, number];
  /** Gap before the next vehicle arrives, ms. */
  readonly gapMs?: readonly [number, number];
  readonly onError?: (chargerId: string, err: unknown) => void;
}

/**
 * Vehicles that arrive at the demo's chargers, charge at the current they are
 * allowed and leave (full, or when their dwell time is up), then the next one
 * comes. Deterministic for a seed; everything on the injected clock.
 */
export class DemoTraffic {
  private readonly rng: () => number;
  private readonly timers = new Map<string, TimerHandle>();
  private readonly plugged = new Map<string, SimVehicle>();
  private seq = 0;
  private running = false;

  constructor(
    private readonly chargers: readonly TrafficCharger[],
    private readonly opts: DemoTrafficOptions,
  ) {
    this.rng = createRng(opts.seed ?? 7);
  }

  start(): void {
    this.running = true;
    this.chargers.forEach((c, i) => {
      this.schedule(c, (this.opts.firstArrivalMs ?? 1000) + i * (this.opts.staggerMs ?? 700), () => this.arrive(c));
    });
  }

  stop(): void {
    this.running = false;
    for (const t of this.timers.values()) this.opts.clock.clearTimeout(t);
    this.timers.clear();
  }

  vehicles(): ReadonlyMap<string, SimVehicle> {
    return this.plugged;
  }

  private between([lo, hi]: readonly [number, number]): number {
    return lo + this.rng() * (hi - lo);
  }

  private schedule(c: TrafficCharger, ms: number, fn: () => void): void {
    if (!this.running) return;
    this.opts.clock.clearTimeout(this.timers.get(c.id));
    this.timers.set(c.id, this.opts.clock.setTimeout(fn, ms));
  }

  private arrive(c: TrafficCharger): void {
    const n = ++this.seq;
    const threePhase = this.rng() < 0.75;
    const spec: VehicleSpec = {
      id: `EV-${String(n).padStart(3, '0')}`,
      capacityWh: 40_000 + Math.round(this.rng() * 6) * 10_000,
      socPct: 10 + Math.round(this.rng() * 50),
      maxCurrentA: threePhase ? (this.rng() < 0.5 ? 16 : 32) : 32,
      phases: threePhase ? 3 : 1,
      // IEC 61851 pace: 2-5 s for most AC vehicles.
      responseDelayMs: 2000 + Math.round(this.rng() * 3000),
      overdrawA: this.rng() < 0.2 ? 1 : 0,
    };
    const vehicle = new SimVehicle(spec, this.opts.clock.now());
    this.plugged.set(c.id, vehicle);
    c.plugIn(vehicle, `TAG${String(n).padStart(4, '0')}`).catch((err: unknown) => this.opts.onError?.(c.id, err));
    const dwell = this.between(this.opts.dwellMs ?? [15 * 60_000, 45 * 60_000]);
    const leaveAt = this.opts.clock.now() + dwell;
    const check = () => {
      if (vehicle.full || this.opts.clock.now() >= leaveAt) {
        this.plugged.delete(c.id);
        c.unplug().catch((err: unknown) => this.opts.onError?.(c.id, err));
        this.schedule(c, this.between(this.opts.gapMs ?? [60_000, 5 * 60_000]), () => this.arrive(c));
      } else {
        this.schedule(c, 10_000, check);
      }
    };
    this.schedule(c, 10_000, check);
  }
}
