import type { ScenarioBuildOptions } from './types.js';

/**
 * Response delay of one AC vehicle: most follow the pilot 5–11 s after a new
 * limit (IEC 61851 pace), a few take up to 30 s.
 */
export function responseDelay(rng: () => number, opts: ScenarioBuildOptions): number {
  const o = opts.responseDelayMs;
  if (typeof o === 'number') return o;
  if (o) return Math.round(o[0] + rng() * (o[1] - o[0]));
  if (rng() < 0.92) return Math.round(5000 + rng() * 6000);
  return Math.round(11_000 + rng() * 19_000);
}

/** Some vehicles draw up to 1.5 A above their set-point. */
export function overdraw(rng: () => number): number {
  return rng() < 0.2 ? Math.round((0.5 + rng()) * 10) / 10 : 0;
}

/** Every vehicle stops below 6 A; some already below 8 A. */
export function stopBelow(rng: () => number): number {
  return rng() < 0.1 ? 8 : 6;
}

export function pick<T>(rng: () => number, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length) % items.length] as T;
}

/** Time-of-use tariff: cheap night, normal day, expensive early evening. */
export function touPrice(ts: number): number {
  const h = new Date(ts).getUTCHours();
  if (h < 6 || h >= 22) return 0.22;
  if (h >= 17 && h < 20) return 0.42;
  return 0.32;
}

export const HOUR = 3_600_000;
export const ROTATIONS = ['L1L2L3', 'L2L3L1', 'L3L1L2'] as const;
