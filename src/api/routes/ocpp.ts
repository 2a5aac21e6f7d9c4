import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { problems } from '../documented-errors.js';
import { unavailable } from '../problem.js';
import type { OcppOutboxProvider } from '../providers.js';
import { type RouteDeps, iso, command, reading, zodPlugin } from './deps.js';

const ParkedView = z.object({
  seq: z.number().int().describe('Outbox sequence number; pass it to POST /api/v1/ocpp/outbox/retry'),
  msgId: z.string().describe("The charger's OCPP message id"),
  action: z.string(),
  error: z.string().nullable().describe('Why the CMS did not take it (last CALLERROR or timeout)'),
  tries: z.number().int(),
  queuedAt: z.string(),
  sessionId: z.string().nullable(),
});

const ChargerOutboxView = z.object({
  chargerId: z.string(),
  connected: z.boolean(),
  upstreamOnline: z.boolean().describe("Whether this charger's CMS connection is up"),
  pending: z.number().int().describe('Messages waiting for the CMS, replayed in order'),
  oldestPendingAt: z.string().nullable(),
  oldestPendingAgeS: z.number().nullable(),
  parkedCount: z.number().int(),
  parked: z.array(ParkedView).describe('Newest first, at most `parkedLimit`'),
});

const OutboxView = z.object({
  pending: z.number().int(),
  parked: z.number().int(),
  chargers: z.array(ChargerOutboxView),
});

const RetryBody = z
  .object({
    seqs: z.array(z.number().int().positive()).min(1).max(10_000).optional().describe('Parked messages to retry'),
    chargerId: z.string().min(1).optional().describe('Retry every parked message of this charger'),
  })
  .strict()
  .describe('Without `seqs` or `chargerId`, every parked message is retried');

/** Most parked messages one retry without `seqs` puts back in line. */
const RETRY_ALL_LIMIT = 10_000;

/**
 * The OCPP proxy's durable outbox: what each charger still owes the CMS and
 * which messages the CMS refused for good (parked as poison so the queue
 * behind them moves on), and the operator's retry of parked messages.
 */
export function ocppRoutes({ ctx, providers }: RouteDeps): FastifyPluginAsync {
  const outbox = (): OcppOutboxProvider => {
    if (!providers.ocppOutbox) throw unavailable('no OCPP proxy is running');
    return providers.ocppOutbox;
  };
  return zodPlugin((r) => {
    r.get(
      '/api/v1/ocpp/outbox',
      reading('ocpp', {
        summary: 'OCPP outbox per charger: pending count, oldest pending age, parked (poison) messages',
        querystring: z
          .object({
            chargerId: z.string().min(1).optional(),
            parkedLimit: z.coerce.number().int().min(0).max(1000).default(100),
          })
          .strict(),
        response: { 200: OutboxView, ...problems(503) },
      }),
      async (req) => {
        const o = outbox();
        const now = ctx.clock.now();
        const { chargerId, parkedLimit } = req.query;
        const chargers = o.outboxSummary().filter((c) => chargerId === undefined || c.chargerId === chargerId);
        let pending = 0;
        let parked = 0;
        const items = chargers.map((c) => {
          pending += c.pending;
          parked += c.parked;
          const rows = c.parked > 0 && parkedLimit > 0 ? o.parked(parkedLimit, c.chargerId) : [];
          return {
            chargerId: c.chargerId,
            connected: c.connected,
            upstreamOnline: c.upstreamOnline,
            pending: c.pending,
            oldestPendingAt: iso(c.oldestPendingAt),
            oldestPendingAgeS:
              c.oldestPendingAt !== undefined ? Math.max(0, Math.round((now - c.oldestPendingAt) / 100) / 10) : null,
            parkedCount: c.parked,
            parked: rows.map((m) => ({
              seq: m.seq,
              msgId: m.msgId,
              action: m.action,
              error: m.lastError ?? null,
              tries: m.attempts,
              queuedAt: iso(m.createdAt) ?? '',
              sessionId: m.sessionId ?? null,
            })),
          };
        });
        return { pending, parked, chargers: items };
      },
    );
    r.post(
      '/api/v1/ocpp/outbox/retry',
      command('ocpp.outbox.retry', 'ocpp', {
        summary: 'Put parked OCPP messages back in line (after the cause was fixed at the CMS); replayed in order',
        body: RetryBody,
        response: {
          200: z.object({ requeued: z.number().int().describe('Parked messages put back in line') }),
          ...problems(503),
        },
      }),
      async (req) => {
        const o = outbox();
        const { seqs, chargerId } = req.body ?? {};
        let chosen = seqs;
        if (chosen === undefined) chosen = o.parked(RETRY_ALL_LIMIT, chargerId).map((m) => m.seq);
        else if (chargerId !== undefined) {
          const own = new Set(o.parked(RETRY_ALL_LIMIT, chargerId).map((m) => m.seq));
          chosen = chosen.filter((s) => own.has(s));
        }
        return { requeued: chosen.length > 0 ? o.retryParked(chosen) : 0 };
      },
    );
  });
}
