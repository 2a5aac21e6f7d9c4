import { z } from 'zod';

export const OcppSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(9000),
    path: z.string().default('/ocpp').describe('Chargers connect to ws://host:port<path>/<chargePointId>.'),
    unknownChargers: z.enum(['accept', 'reject']).default('reject'),
    upstream: z
      .object({
        url: z.string().url().describe('CMS base URL; the charger id is appended.'),
        username: z.string().optional(),
        password: z.string().optional(),
      })
      .passthrough()
      .optional(),
    gatewayProfileStackLevel: z.number().int().min(0).default(9).describe('Stack level owned by the gateway.'),
  })
  .passthrough();

export type OcppConfig = z.infer<typeof OcppSchema>;
