import type { Clock, TimerHandle } from '../../../src/model/clock.js';
import { Stepper } from './stepper.js';

export interface SiteLoadOptions {
  readonly clock: Clock;
  readonly stepMs?: number;
  readonly physics: { removeLoad(id: string): void };
  /** The device's load id on the site. */
  readonly id: string;
  readonly step: (dtH: number, now: number) => void;
}

/**
 * What a power-drawing simulated device keeps up on the site: its physics step on the clock, its
 * fail-safe timer (the set-point falls back when the controller stops writing), and its load, taken
 * off the site when the device stops.
 */
export class SiteLoad {
  private readonly stepper: Stepper;
  private revertTimer?: TimerHandle;

  constructor(private readonly o: SiteLoadOptions) {
    this.stepper = new Stepper(o.clock, o.stepMs ?? 1000, o.step);
  }

  start(): void {
    this.stepper.start();
  }

  stop(): void {
    this.stepper.stop();
    this.cancelRevert();
    this.o.physics.removeLoad(this.o.id);
  }

  /** `fallback` runs after `s` seconds unless armed again or cancelled first; `s <= 0` only cancels. */
  armRevert(s: number, fallback: () => void): void {
    this.cancelRevert();
    if (s > 0) this.revertTimer = this.o.clock.setTimeout(fallback, s * 1000);
  }

  cancelRevert(): void {
    this.o.clock.clearTimeout(this.revertTimer);
    this.revertTimer = undefined;
  }
}
