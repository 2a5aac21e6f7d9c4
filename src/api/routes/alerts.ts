import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { DAY_MS, iso, type RouteDeps, rangeQuery, reading, zodPlugin } from './deps.js';

const AlertView = z.object({
  id: z.string(),
  kind: z.string(),
  subject: z.string(),
  severity: z.enum(['critical', 'warning', 'info']),
  message: z.string(),
  raisedAt: z.string(),
  clearedAt: z.string().nullable(),
  data: z.record(z.string(), z.unknown()).optional(),
});

/** Maintenance alerts, uptime per EVSE and firmware status per charger. */
export function alertRoutes({ ctx, integration }: RouteDeps): FastifyPluginAsync {
  return zodPlugin((r) => {
    r.get(
      '/api/v1/alerts',
      reading('alerts', {
        summary: 'Maintenance alerts: active ones, or the history in a time range',
        querystring: rangeQuery({
          active: z
            .enum(['true', 'false'])
            .default('true')
            .transform((s) => s === 'true'),
          limit: z.coerce.number().int().min(1).max(1000).default(200),
        }),
        response: { 200: z.array(AlertView) },
      }),
      async (req) =>
        integration.alerts
          .list({
            active: req.query.active,
            limit: req.query.limit,
            ...(req.query.from !== undefined ? { from: req.query.from } : {}),
            ...(req.query.to !== undefined ? { to: req.query.to } : {}),
          })
          .map((a) => ({
            ...a,
            raisedAt: iso(a.raisedAt) ?? '',
            clearedAt: iso(a.clearedAt),
            ...(a.data ? { data: { ...a.data } } : {}),
          })),
    );

    r.get(
      '/api/v1/uptime',
      reading('alerts', {
        summary: 'Uptime % per EVSE over the last 24 h and 30 d, and firmware status per charger',
        response: {
          200: z.object({
            evses: z.array(
              z.object({
                evseId: z.string(),
                uptime24hPct: z.number().nullable(),
                uptime30dPct: z.number().nullable(),
              }),
            ),
            firmware: z.array(z.object({ chargerId: z.string(), status: z.string(), ts: z.string() })),
          }),
        },
      }),
      async () => {
        const now = ctx.clock.now();
        const ids = new Set([...integration.alerts.evseIds(), ...ctx.state.snapshot().evses.map((e) => e.id)]);
        return {
          evses: [...ids].sort().map((id) => ({
            evseId: id,
            uptime24hPct: integration.alerts.uptime(id, now - DAY_MS, now).uptimePct,
            uptime30dPct: integration.alerts.uptime(id, now - 30 * DAY_MS, now).uptimePct,
          })),
          firmware: integration.alerts.firmwareStatus().map((f) => ({ ...f, ts: iso(f.ts) ?? '' })),
        };
      },
    );
  });
}
