import { z } from 'zod';

export const StoreSchema = z
  .object({
    path: z.string().default('data/gridkeeper.db').describe('SQLite file; `:memory:` for throw-away runs.'),
    telemetryRetentionHours: z.number().positive().default(168),
    setpointAuditRetentionDays: z
      .number()
      .positive()
      .default(90)
      .describe(
        'How long every set-point written to a device is kept with its reasons (the answer to "why did my car charge slowly on that day"), days.',
      ),
    telemetryIntervalMs: z
      .number()
      .int()
      .min(100)
      .default(5000)
      .describe('Sampling interval of the telemetry ring, ms.'),
  })
  .strict();

export type StoreConfig = z.infer<typeof StoreSchema>;
