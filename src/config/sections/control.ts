import { z } from 'zod';

export const ControlSchema = z
  .object({
    intervalMs: z.number().int().min(100).default(1000).describe('Loop runs at least this often, ms.'),
    coalesceMs: z.number().int().min(0).default(50).describe('Changes are coalesced for this long before a run, ms.'),
    deadbandW: z
      .number()
      .nonnegative()
      .default(100)
      .describe('Set-point changes smaller than this are not written, W.'),
    deadbandA: z
      .number()
      .nonnegative()
      .default(0.5)
      .describe('Current set-point changes smaller than this are not written, A.'),
    policies: z
      .object({
        loadManagement: z
          .object({
            enabled: z.boolean().default(true),
            marginW: z.number().nonnegative().default(500).describe('Headroom kept below the site limit, W.'),
          })
          .strict()
          .prefault({}),
        allocator: z
          .object({
            minOnMs: z
              .number()
              .int()
              .nonnegative()
              .default(60_000)
              .describe('A running session keeps its place this long, ms.'),
            minOffMs: z
              .number()
              .int()
              .nonnegative()
              .default(30_000)
              .describe('A paused session stays paused this long, ms.'),
            rampUpAPerS: z.number().positive().default(4).describe('Slow up: largest increase per second, A/s.'),
            holdMaxMs: z
              .number()
              .int()
              .positive()
              .default(30_000)
              .describe('Longest time a vehicle may take to follow a decrease (slowest AC vehicles), ms.'),
            phaseSwitching: z
              .array(z.string())
              .default([])
              .describe('Charger ids that can switch between 1 and 3 phases.'),
          })
          .strict()
          .prefault({}),
      })
      .passthrough()
      .prefault({}),
  })
  .strict();

export type ControlConfig = z.infer<typeof ControlSchema>;
