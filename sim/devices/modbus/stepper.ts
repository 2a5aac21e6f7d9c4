import type { Clock, TimerHandle } from '../../../src/model/clock.js';

/**
 * Advances a simulated device's physics on the (virtual) clock: calls
 * `step(dtH, now)` every `stepMs` with the hours since the last step, so
 * energy integrates correctly whatever the step size.
 */
export class Stepper {
  private timer?: TimerHandle;
  private last: number;

  constructor(
    private readonly clock: Clock,
    private readonly stepMs: number,
    private readonly step: (dtH: number, now: number) => void,
  ) {
    this.last = clock.now();
  }

  start(): void {
    this.last = this.clock.now();
    this.timer = this.clock.setInterval(() => this.tick(), this.stepMs);
  }

  stop(): void {
    this.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = this.clock.now();
    const dtH = Math.max(0, now - this.last) / 3_600_000;
    this.last = now;
    this.step(dtH, now);
  }
}
