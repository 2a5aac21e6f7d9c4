import type { VirtualClock } from '../../src/model/clock.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface WaitOptions {
  /** Give up after this long in real time, ms (default 10 s). */
  readonly timeoutMs?: number;
  /** Real time between two polls, ms (default 20). */
  readonly intervalMs?: number;
  /** Move this virtual clock by `advanceMs` per poll, so clock-driven timers fire while sockets run. */
  readonly clock?: VirtualClock;
  readonly advanceMs?: number;
}

/**
 * Poll `fn` in real time (sockets and child processes cannot run on the virtual clock) until it
 * returns something other than `undefined` or `false`, and return that. A poll that throws counts
 * as not yet; the last error is named if time runs out. A number as `options` is the timeout.
 */
export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitOptions | number = {},
): Promise<T> {
  const opts = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = performance.now() + (opts.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last !== undefined ? `: ${String(last)}` : ''}`);
    if (opts.clock && opts.advanceMs) opts.clock.advance(opts.advanceMs);
    await sleep(opts.intervalMs ?? 20);
  }
}
