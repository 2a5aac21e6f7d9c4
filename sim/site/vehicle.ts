import type { PhaseValues } from '../../src/model/site.js';

export interface VehicleSpec {
  readonly id: string;
  readonly capacityWh: number;
  /** State of charge at arrival, 0..100. */
  readonly socPct: number;
  /** Highest current the on-board charger takes per phase, A. */
  readonly maxCurrentA: number;
  readonly phases: 1 | 3;
  /**
   * Delay between a new current limit and the vehicle following it, ms.
   * AC vehicles follow the pilot 5–11 s late (IEC 61851 pace, some up to
   * 30 s); DC/V2G units in < 1 s. Configured per vehicle.
   */
  readonly responseDelayMs: number;
  /** Some vehicles draw this much above the set-point, A. */
  readonly overdrawA?: number;
  /** Stops drawing below this offered current (IEC 61851: 6 A). */
  readonly minCurrentA?: number;
  readonly departureAt?: number;
  /** Energy the fleet needs by departure, Wh. */
  readonly neededWh?: number;
  readonly bidirectional?: boolean;
}

/**
 * A plugged-in vehicle: follows the offered current after its response
 * delay, stops when full, integrates energy. Physics only, no protocol.
 */
export class SimVehicle {
  private offeredA = 0;
  /** [effectiveFrom, amps] commands not yet in effect. */
  private pending: Array<[number, number]> = [];
  private drawA = 0;
  private energyWh: number;
  private lastStep: number;
  deliveredWh = 0;

  constructor(
    readonly spec: VehicleSpec,
    now: number,
  ) {
    this.energyWh = (spec.capacityWh * spec.socPct) / 100;
    this.lastStep = now;
  }

  get socPct(): number {
    return (100 * this.energyWh) / this.spec.capacityWh;
  }

  get full(): boolean {
    return this.energyWh >= this.spec.capacityWh - 1;
  }

  /** The EVSE offers a new current limit (pilot duty cycle or DC set-point). */
  offer(currentA: number, now: number): void {
    this.offeredA = currentA;
    this.pending.push([now + this.spec.responseDelayMs, currentA]);
  }

  get offered(): number {
    return this.offeredA;
  }

  /** Advance physics to `now`; returns the current drawn per phase after the step. */
  step(now: number, voltageV: number): number {
    const dtH = Math.max(0, now - this.lastStep) / 3_600_000;
    this.energyWh = Math.min(this.spec.capacityWh, this.energyWh + this.powerW(voltageV) * dtH);
    this.deliveredWh += this.powerW(voltageV) * dtH;
    this.lastStep = now;
    while (this.pending.length > 0 && (this.pending[0]?.[0] ?? Number.POSITIVE_INFINITY) <= now) {
      const [, a] = this.pending.shift() as [number, number];
      const min = this.spec.minCurrentA ?? 6;
      this.drawA = a < min ? 0 : Math.min(this.spec.maxCurrentA, a + (this.spec.overdrawA ?? 0));
    }
    if (this.full) this.drawA = 0;
    return this.drawA;
  }

  currentA(): number {
    return this.drawA;
  }

  powerW(voltageV: number): number {
    return this.drawA * this.spec.phases * voltageV;
  }

  /** Phase currents in the charger's phase order (single-phase cars draw on L1). */
  phaseCurrents(): PhaseValues {
    return this.spec.phases === 3 ? [this.drawA, this.drawA, this.drawA] : [this.drawA, 0, 0];
  }
}
