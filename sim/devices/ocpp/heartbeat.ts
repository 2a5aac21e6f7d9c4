import type { Clock, TimerHandle } from '../../../src/model/clock.js';

/**
 * A charger's Heartbeat: every HeartbeatInterval seconds once booted, the
 * interval taken from the BootNotification answer or a later configuration
 * change (0 = none).
 */
export class Heartbeat {
  private timer?: TimerHandle;
  private everyMs = 0;

  constructor(
    private readonly clock: Clock,
    private readonly send: () => void,
  ) {}

  /** (Re)arm at this period; the same period keeps its phase. */
  set(intervalS: number): void {
    const ms = Math.max(0, Math.round(intervalS * 1000));
    if (ms === this.everyMs && (this.timer || ms === 0)) return;
    this.stop();
    this.everyMs = ms;
    if (ms > 0) this.timer = this.clock.setInterval(this.send, ms);
  }

  stop(): void {
    this.clock.clearInterval(this.timer);
    this.timer = undefined;
    this.everyMs = 0;
  }
}
