/**
 * Time is injected everywhere: production code never calls Date.now() or the
 * global timers directly, so scenarios and tests can run a virtual clock
 * (a depot day in seconds) and stay deterministic.
 */
export type TimerHandle = { readonly id: number };

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle | undefined): void;
}

/** Wall clock backed by the Node timers. */
export class SystemClock implements Clock {
  private readonly handles = new Map<number, NodeJS.Timeout>();
  private nextId = 1;

  now(): number {
    return Date.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    const t = setTimeout(() => {
      this.handles.delete(id);
      fn();
    }, ms);
    this.handles.set(id, t);
    return { id };
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    this.release(handle, clearTimeout);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.handles.set(id, setInterval(fn, ms));
    return { id };
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.release(handle, clearInterval);
  }

  private release(handle: TimerHandle | undefined, clear: (t: NodeJS.Timeout) => void): void {
    if (!handle) return;
    const t = this.handles.get(handle.id);
    if (t) clear(t);
    this.handles.delete(handle.id);
  }

  /** Number of live timers; used by tests to prove that stop() leaves nothing behind. */
  pending(): number {
    return this.handles.size;
  }
}

interface VirtualTimer {
  id: number;
  at: number;
  seq: number;
  fn: () => void;
  every?: number;
}

/**
 * Deterministic clock for tests and scenarios. Time only moves when
 * `advance()` or `runUntil()` is called; timers fire in (time, creation) order.
 */
export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private nextId = 1;
  private timers: VirtualTimer[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.insert({ id, at: this.t + Math.max(0, ms), seq: this.seq++, fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (!handle) return;
    this.timers = this.timers.filter((x) => x.id !== handle.id);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    const every = Math.max(1, ms);
    this.insert({ id, at: this.t + every, seq: this.seq++, fn, every });
    return { id };
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.clearTimeout(handle);
  }

  /** Move time forward by `ms`, firing every timer due on the way. */
  advance(ms: number): void {
    this.runUntil(this.t + ms);
  }

  runUntil(target: number): void {
    for (;;) {
      const next = this.timers[0];
      if (!next || next.at > target) break;
      this.timers.shift();
      this.t = next.at;
      if (next.every !== undefined) {
        this.insert({ ...next, at: next.at + next.every, seq: this.seq++ });
      }
      next.fn();
    }
    this.t = Math.max(this.t, target);
  }

  pending(): number {
    return this.timers.length;
  }

  /** When the next timer fires, or undefined when none is pending (the scenario harness steps to it). */
  nextDue(): number | undefined {
    return this.timers[0]?.at;
  }

  private insert(timer: VirtualTimer): void {
    // Keep sorted by (at, seq); timer counts are small so linear insert is fine.
    let i = this.timers.length;
    while (i > 0) {
      const prev = this.timers[i - 1];
      if (prev && (prev.at < timer.at || (prev.at === timer.at && prev.seq < timer.seq))) break;
      i--;
    }
    this.timers.splice(i, 0, timer);
  }
}
