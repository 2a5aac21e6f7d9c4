import { z } from 'zod';

/**
 * OSCP 2.0 messages (Open Charge Alliance, Open Smart Charging Protocol):
 * the parts the flexibility provider exchanges with a capacity provider.
 * JSON over HTTP POST to `<base_url>/<message_name_in_snake_case>`, header
 * `Authorization: Token <token>`, answered with 204 No Content.
 */

export const DateTimeSchema = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), { message: 'not an ISO 8601 date-time' });

export const PhaseSchema = z.enum(['UNKNOWN', 'ONE', 'TWO', 'THREE', 'ALL']);
export const BlockUnitSchema = z.enum(['A', 'W', 'KW', 'WH', 'KWH']);
export const ForecastTypeSchema = z.enum([
  'CONSUMPTION',
  'GENERATION',
  'FALLBACK_CONSUMPTION',
  'FALLBACK_GENERATION',
  'OPTIMUM',
]);
export type ForecastType = z.infer<typeof ForecastTypeSchema>;

export const ForecastedBlockSchema = z.looseObject({
  capacity: z.number().finite(),
  phase: PhaseSchema,
  unit: BlockUnitSchema,
  start_time: DateTimeSchema,
  end_time: DateTimeSchema,
});
export type ForecastedBlock = z.infer<typeof ForecastedBlockSchema>;

export const GroupCapacityForecastSchema = z.looseObject({
  group_id: z.string().min(1),
  type: ForecastTypeSchema,
  forecasted_blocks: z.array(ForecastedBlockSchema).min(1),
});
export type GroupCapacityForecast = z.infer<typeof GroupCapacityForecastSchema>;

export const VersionUrlSchema = z.looseObject({ version: z.string(), base_url: z.string().url() });

export const RegisterSchema = z.looseObject({
  token: z.string().min(1),
  version_url: z.array(VersionUrlSchema).min(1),
});

export const RequiredBehaviourSchema = z.looseObject({
  heartbeat_interval: z.number().positive().optional(),
  measurement_configuration: z.array(z.enum(['CONTINUOUS', 'INTERMITTENT'])).optional(),
});

export const HandshakeSchema = z.looseObject({ required_behaviour: RequiredBehaviourSchema });
export const HandshakeAcknowledgementSchema = z.looseObject({ required_behaviour: RequiredBehaviourSchema.optional() });
export const HeartbeatSchema = z.looseObject({ offline_mode_at: DateTimeSchema });

export const EnergyMeasurementSchema = z.looseObject({
  value: z.number(),
  phase: PhaseSchema,
  unit: z.enum(['A', 'W', 'KW', 'WH', 'KWH']),
  direction: z.enum(['NET', 'IMPORT', 'EXPORT']).optional(),
  energy_type: z.enum(['FLEXIBLE', 'NONFLEXIBLE', 'TOTAL']).optional(),
  measure_time: DateTimeSchema.optional(),
  initial_measure_time: DateTimeSchema.optional(),
  last_measure_time: DateTimeSchema.optional(),
});

export const UpdateGroupMeasurementsSchema = z.looseObject({
  group_id: z.string().min(1),
  measurements: z.array(EnergyMeasurementSchema).min(1),
});

export const GroupCapacityComplianceErrorSchema = z.looseObject({
  message: z.string(),
  forecasted_blocks: z.array(ForecastedBlockSchema).optional(),
});

/** A block's capacity in W (per-phase currents on 'ALL' count three phases). */
export function blockToW(b: ForecastedBlock, voltageV: number): number | undefined {
  switch (b.unit) {
    case 'W':
      return b.capacity;
    case 'KW':
      return b.capacity * 1000;
    case 'A': {
      const phases = b.phase === 'ONE' ? 1 : b.phase === 'TWO' ? 2 : 3;
      return b.capacity * voltageV * phases;
    }
    default:
      // Energy units do not describe a power capacity.
      return undefined;
  }
}
