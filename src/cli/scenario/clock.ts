import { type TimerHandle, VirtualClock } from '../../model/clock.js';

/**
 * The scenarios' virtual clock: a VirtualClock that also knows when its next
 * timer is due, so the harness can stop at every due time and let the
 * loopback sockets settle before time moves on (a 50 ms coalesced control
 * round then runs 50 ms after its trigger, not at the next whole second).
 */
export class SteppingClock extends VirtualClock {
  private readonly due = new Map<number, { at: number; every?: number }>();

  override setTimeout(fn: () => void, ms: number): TimerHandle {
    const at = this.now() + Math.max(0, ms);
    let id = 0;
    const h = super.setTimeout(() => {
      this.due.delete(id);
      fn();
    }, ms);
    id = h.id;
    this.due.set(id, { at });
    return h;
  }

  override setInterval(fn: () => void, ms: number): TimerHandle {
    const every = Math.max(1, ms);
    let id = 0;
    const h = super.setInterval(() => {
      const d = this.due.get(id);
      if (d) d.at += every;
      fn();
    }, ms);
    id = h.id;
    this.due.set(id, { at: this.now() + every, every });
    return h;
  }

  override clearTimeout(handle: TimerHandle | undefined): void {
    if (handle) this.due.delete(handle.id);
    super.clearTimeout(handle);
  }

  override clearInterval(handle: TimerHandle | undefined): void {
    if (handle) this.due.delete(handle.id);
    super.clearInterval(handle);
  }

  /** When the next timer fires, or undefined when none is pending. */
  nextDue(): number | undefined {
    let min: number | undefined;
    for (const d of this.due.values()) if (min === undefined || d.at < min) min = d.at;
    return min;
  }
}
