/** Quality of a value in the process image. */
export type Quality = 'good' | 'stale' | 'bad';

/**
 * Every value the gateway knows carries where and when it came from, so a
 * stale input can never be reused silently.
 */
export interface Reading<T = number> {
  readonly value: T;
  /** Epoch ms when the source produced (or the adapter received) the value. */
  readonly ts: number;
  /** Device id that produced it. */
  readonly source: string;
  readonly quality: Quality;
}

export function reading<T>(value: T, ts: number, source: string, quality: Quality = 'good'): Reading<T> {
  return { value, ts, source, quality };
}

/** A reading is usable when it is good and younger than `staleAfterMs`. */
export function isFresh(r: Reading<unknown> | undefined, now: number, staleAfterMs: number): boolean {
  return r !== undefined && r.quality === 'good' && now - r.ts <= staleAfterMs;
}
