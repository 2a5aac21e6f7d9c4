import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { EVENT_TYPES } from '../../integration/events.js';
import { NO_CONTENT, problems } from '../documented-errors.js';
import { conflict, notFound } from '../problem.js';
import { EVENT_PATTERN } from './events.js';
import { IdParam, type RouteDeps, iso, found, reading, command, zodPlugin, collection } from './deps.js';

const WebhookView = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  source: z.enum(['api', 'config']),
  createdAt: z.string(),
  stats: z.object({
    pending: z.number().int(),
    delivered: z.number().int(),
    dead: z.number().int(),
    lastError: z.string().nullable(),
    lastDeliveredAt: z.string().nullable(),
  }),
});

const DeliveryView = z.object({
  seq: z.number().int(),
  eventId: z.number().int(),
  type: z.string(),
  state: z.enum(['pending', 'delivered', 'dead']),
  attempts: z.number().int(),
  createdAt: z.string(),
  nextAt: z.string().nullable(),
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  doneAt: z.string().nullable(),
});

export function webhookRoutes({ integration }: RouteDeps): FastifyPluginAsync {
  const wh = integration.webhooks;
  const view = (id: string): z.infer<typeof WebhookView> => {
    const s = found(wh.get(id), 'webhook', id);
    const st = wh.stats(id);
    return {
      id: s.id,
      url: s.url,
      events: [...s.events],
      source: s.source,
      createdAt: iso(s.createdAt) ?? '',
      stats: { ...st, lastDeliveredAt: iso(st.lastDeliveredAt) },
    };
  };
  return zodPlugin((r) => {
    collection(r, '/api/v1/webhooks', {
      tag: 'webhooks',
      noun: 'webhook',
      summary: 'Webhook subscriptions with delivery stats',
      response: WebhookView,
      list: () => wh.list(),
      find: (id) => wh.get(id),
      view: (s) => view(s.id),
      auth: 'control',
    });
    r.post(
      '/api/v1/webhooks',
      command('webhook.create', 'webhooks', {
        summary: 'Subscribe a URL to events (Standard Webhooks signing); returns the whsec_ secret once',
        description: `Event types: ${EVENT_TYPES.join(', ')}; patterns like \`session.*\` or \`*\`.`,
        body: z
          .object({
            url: z.url({ protocol: /^https?$/ }),
            events: z.array(z.string().regex(EVENT_PATTERN, 'event type or pattern like session.*')).min(1).max(50),
            secret: z
              .string()
              .regex(/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/, 'whsec_ followed by at least 24 bytes of base64')
              .optional(),
          })
          .strict(),
        response: {
          201: z.object({ id: z.string(), secret: z.string(), url: z.string(), events: z.array(z.string()) }),
        },
      }),
      async (req, reply) => {
        const s = wh.create(req.body);
        return reply.code(201).send({ id: s.id, secret: s.secret, url: s.url, events: [...s.events] });
      },
    );
    r.delete(
      '/api/v1/webhooks/:id',
      command('webhook.delete', 'webhooks', {
        summary: 'Delete a subscription made through the API',
        params: IdParam,
        response: { ...NO_CONTENT, ...problems(409) },
      }),
      async (req, reply) => {
        const res = wh.remove(req.params.id);
        if (res === 'not-found') throw notFound(`no webhook ${req.params.id}`);
        if (res === 'config') throw conflict(`webhook ${req.params.id} comes from the config file; remove it there`);
        return reply.code(204).send();
      },
    );
    r.get(
      '/api/v1/webhooks/:id/deliveries',
      reading(
        'webhooks',
        {
          summary: 'Outbox entries of a subscription (e.g. ?state=dead for the dead letters)',
          params: IdParam,
          querystring: z
            .object({
              state: z.enum(['pending', 'delivered', 'dead']).optional(),
              afterSeq: z.coerce.number().int().min(0).optional(),
              limit: z.coerce.number().int().min(1).max(1000).default(100),
            })
            .strict(),
          response: { 200: z.array(DeliveryView) },
        },
        'control',
      ),
      async (req) => {
        if (!wh.get(req.params.id)) throw notFound(`no webhook ${req.params.id}`);
        return wh
          .deliveryLog(req.params.id, {
            limit: req.query.limit,
            ...(req.query.state ? { state: req.query.state } : {}),
            ...(req.query.afterSeq !== undefined ? { afterSeq: req.query.afterSeq } : {}),
          })
          .map((x) => ({
            ...x,
            createdAt: iso(x.createdAt) ?? '',
            nextAt: x.state === 'pending' ? iso(x.nextAt) : null,
            doneAt: iso(x.doneAt),
          }));
      },
    );
    r.post(
      '/api/v1/webhooks/:id/redeliver',
      command('webhook.redeliver', 'webhooks', {
        summary: 'Queue events again: given ids, everything from an id on, or (empty body) every dead letter',
        params: IdParam,
        body: z
          .object({
            eventIds: z.array(z.number().int().min(1)).max(10_000).optional(),
            fromEventId: z.number().int().min(1).optional(),
          })
          .strict()
          .default({}),
        response: { 202: z.object({ queued: z.number().int() }) },
      }),
      async (req, reply) => {
        if (!wh.get(req.params.id)) throw notFound(`no webhook ${req.params.id}`);
        const queued = wh.redeliver(req.params.id, {
          ...(req.body.eventIds ? { eventIds: req.body.eventIds } : {}),
          ...(req.body.fromEventId !== undefined ? { fromEventId: req.body.fromEventId } : {}),
        });
        return reply.code(202).send({ queued });
      },
    );
  });
}
