import type { ScenarioBuildOptions } from './types.js';

/** Response delay of one vehicle: 80 % AC pace 2-5 s, 12 % slow 5-15 s, 8 % very slow up to 30 s. */
export function responseDelay(rng: () => number, opts: ScenarioBuildOptions): number {
  const o = opts.responseDelayMs;
  if (typeof o === 'number') return o;
  if (o) return Math.round(o[0] + rng() * (o[1] - o[0]));
  const r = rng();
  if (r < 0.8) return Math.round(2000 + rng() * 3000);
  if (r < 0.92) return Math.round(5000 + rng() * 10_000);
  return Math.round(15_000 + rng() * 15_000);
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
