import { z } from 'zod';
import { intAtLeast } from './parts.js';

const EVENT_PATTERN = /^(\*|[a-z]+(\.[a-z]+)*(\.\*)?)$/;

export const WebhookConfigSchema = z
  .object({
    id: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .describe('Stable id, so the outbox survives edits of the file.'),
    url: z.url({ protocol: /^https?$/ }),
    events: z
      .array(z.string().regex(EVENT_PATTERN, 'event type or prefix pattern like session.*'))
      .min(1)
      .describe('Event types, e.g. ["session.*", "alert.raised"].'),
    secret: z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/=]+$/, 'whsec_<base64>')
      .describe('Signing secret (Standard Webhooks), from an environment variable reference.'),
  })
  .strict();

export const WebhookDeliverySchema = z
  .object({
    timeoutMs: intAtLeast(100, 10_000),
    initialBackoffMs: intAtLeast(10, 2_000),
    maxBackoffMs: intAtLeast(100, 3_600_000),
    deadAfterMs: intAtLeast(1000, 26 * 3_600_000).describe(
      'An event still undelivered this long after it was queued is dead-lettered (default 26 h).',
    ),
    keepDeliveredMs: intAtLeast(0, 7 * 86_400_000),
    backlogAlert: intAtLeast(1, 1000).describe('Raise an alert above this many pending events.'),
  })
  .strict();

export const AuthoriserSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }).describe('POST {idTag, chargerId, ...} → {status: Accepted|Blocked|...}'),
    secret: z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/=]+$/)
      .optional()
      .describe('Requests are signed like webhooks when set.'),
    timeoutMs: intAtLeast(50, 2_000),
    cacheTtlMs: intAtLeast(0, 86_400_000).describe('Accepted answers are cached this long.'),
    fallback: z
      .enum(['cache-then-local', 'accept', 'reject'])
      .default('cache-then-local')
      .describe('What happens when the authoriser does not answer in time.'),
    localList: z.array(z.string()).default([]).describe('idTags accepted when the authoriser is unreachable.'),
  })
  .strict();

export const InfluxSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(8086),
    protocol: z.enum(['http', 'https']).default('http'),
    database: z.string().min(1).default('gridkeeper'),
    username: z.string().optional(),
    password: z.string().optional().describe('From an environment variable reference.'),
    intervalMs: intAtLeast(100, 5000).describe('Sampling interval of the site state, ms.'),
    batchSize: intAtLeast(1, 5000),
    flushIntervalMs: intAtLeast(50, 1000),
    maxBufferedPoints: intAtLeast(1000, 5_000_000).describe(
      'Points kept on disk through an outage; oldest dropped beyond.',
    ),
    createDatabase: z.boolean().default(true),
  })
  .strict();

export const ReportsSchema = z
  .object({
    gridCo2GPerKWh: z
      .union([
        z.number().nonnegative(),
        z.array(z.object({ hour: z.number().int().min(0).max(23), gPerKWh: z.number().nonnegative() }).strict()),
      ])
      .default(380)
      .describe('Grid carbon intensity: a constant or per-hour-of-day values (UTC).'),
    pricePerKWh: z.number().nonnegative().default(0.3).describe('Tariff used for session cost.'),
    currency: z.string().length(3).default('EUR'),
  })
  .strict();

export const AlertsSchema = z
  .object({
    deviceOfflineAfterMs: intAtLeast(0, 60_000),
    checkIntervalMs: intAtLeast(100, 5_000),
  })
  .strict();

/** Partners: webhooks, external authoriser, InfluxDB export, reports, alerts. */
export const IntegrationSchema = z
  .object({
    webhooks: z.array(WebhookConfigSchema).default([]),
    webhookDelivery: WebhookDeliverySchema.prefault({}),
    authoriser: AuthoriserSchema.optional(),
    influx: InfluxSchema.optional().describe('InfluxDB 1.x export; off when absent.'),
    reports: ReportsSchema.prefault({}),
    alerts: AlertsSchema.prefault({}),
  })
  .strict();

export type IntegrationConfig = z.infer<typeof IntegrationSchema>;
export type WebhookConfig = z.infer<typeof WebhookConfigSchema>;
export type InfluxConfig = z.infer<typeof InfluxSchema>;
export type AuthoriserConfig = z.infer<typeof AuthoriserSchema>;
export type ReportsConfig = z.infer<typeof ReportsSchema>;
