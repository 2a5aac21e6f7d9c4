import { z } from 'zod';

// Building blocks the config sections share, so a rule (whole numbers, strict groups) reads the same everywhere.

/** A whole number of at least `min`, `def` when absent: most timings, sizes and counts in the file. */
export const intAtLeast = (min: number, def: number) => z.number().int().min(min).default(def);

/** A policy's settings: `enabled` (default `on`) beside its own; strict, and all defaults when left out. */
export function policySection<T extends z.ZodRawShape>(on: boolean, shape: T) {
  return z
    .object({ enabled: z.boolean().default(on), ...shape })
    .strict()
    .prefault({} as never);
}
