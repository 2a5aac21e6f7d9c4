import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { ZodTypeProvider } from '../schema.js';
import { IdParam, type RouteDeps, command, found, iso } from './deps.js';

const COMMAND = 'alert.ack';
/** How far back the audit log is read for acknowledgements (newest first). */
const ACK_SCAN = 1000;

const AckView = z.object({
  alertId: z.string(),
  by: z.string(),
  at: z.string(),
  note: z.string().nullable(),
});

const AckBody = z
  .object({ note: z.string().max(500).optional() })
  .strict()
  .default({})
  .describe('Optional: a note for the audit log');

/**
 * Acknowledging an alert: an operator says "seen, on it". The command audit
 * log already records who ran which command when, durably; an
 * acknowledgement is that record, so there is no second store to keep in step.
 * The list needs the control scope because it names people.
 */
export function alertAckRoutes(d: RouteDeps): FastifyPluginAsync {
  const { integration } = d;
  const acks = (): Array<z.infer<typeof AckView>> => {
    const seen = new Set<string>();
    const out: Array<z.infer<typeof AckView>> = [];
    for (const e of integration.audit.list({ limit: ACK_SCAN })) {
      if (e.command !== COMMAND || e.status >= 400) continue;
      const p = e.params as { params?: { id?: string }; body?: { note?: string } | null } | null;
      const id = p?.params?.id;
      if (!id || seen.has(id)) continue;
      seen.add(id);
      out.push({ alertId: id, by: e.principalName, at: iso(e.ts) ?? '', note: p?.body?.note ?? null });
    }
    return out;
  };
  return async (app) => {
    const r = app.withTypeProvider<ZodTypeProvider>();
    r.get(
      '/api/v1/alerts/acks',
      {
        config: { auth: 'control' },
        schema: {
          tags: ['alerts'],
          summary: 'Acknowledged alerts (newest acknowledgement per alert), from the command audit log',
          response: { 200: z.array(AckView) },
        },
      },
      async () => acks(),
    );
    r.post(
      '/api/v1/alerts/:id/ack',
      command(COMMAND, 'alerts', {
        summary: 'Acknowledge an active alert (recorded with who and when in the audit log)',
        params: IdParam,
        body: AckBody,
        response: { 200: z.object({ alertId: z.string(), acknowledged: z.literal(true) }) },
      }),
      async (req) => {
        const active = integration.alerts.list({ active: true, limit: 1000 });
        const a = found(
          active.find((x) => x.id === req.params.id),
          'active alert',
          req.params.id,
        );
        return { alertId: a.id, acknowledged: true as const };
      },
    );
  };
}
