import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { GridStatusSchema, SimpleSignalSchema } from '../../grid/service.js';
import { problems } from '../documented-errors.js';
import { badRequest, unavailable } from '../problem.js';
import { iso, type RouteDeps, rangeQuery, command, reading, zodPlugin } from './deps.js';

/** Grid-operator signals: events, what is in force, and the simple DR signal for utilities without OpenADR. */
export function gridRoutes({ ctx, providers }: RouteDeps): FastifyPluginAsync {
  return zodPlugin((r) => {
    r.get(
      '/api/v1/grid/events',
      reading('grid', {
        summary: 'Demand-response and grid-operator events (OpenADR, MQTT/HTTP signals)',
        querystring: rangeQuery({}),
        response: {
          200: z.array(
            z.object({
              id: z.string(),
              source: z.string(),
              kind: z.string(),
              start: z.string(),
              end: z.string().nullable(),
              value: z.number().nullable(),
              unit: z.string().nullable(),
              status: z.string(),
              detail: z.record(z.string(), z.unknown()).nullable(),
            }),
          ),
        },
      }),
      async (req) =>
        (
          providers.grid?.events({
            ...(req.query.from !== undefined ? { from: req.query.from } : {}),
            ...(req.query.to !== undefined ? { to: req.query.to } : {}),
          }) ?? []
        ).map((e) => ({
          id: e.id,
          source: e.source,
          kind: e.kind,
          start: iso(e.start) ?? '',
          end: iso(e.end),
          value: e.value ?? null,
          unit: e.unit ?? null,
          status: e.status,
          detail: e.detail ? { ...e.detail } : null,
        })),
    );

    r.get(
      '/api/v1/grid',
      reading('grid', {
        summary: 'Grid signals in force and next, their sources, the fallback and the tariff now',
        response: { 200: GridStatusSchema, ...problems(503) },
      }),
      async () => {
        if (!providers.grid?.status) throw unavailable('no grid service is running');
        return providers.grid.status() as z.input<typeof GridStatusSchema>;
      },
    );
    r.post(
      '/api/v1/grid/limit',
      command('grid.limit', 'grid', {
        summary: 'Simple DR signal for utilities without OpenADR: an import/export limit or set-point with an expiry',
        body: SimpleSignalSchema,
        response: {
          200: z.object({
            ok: z.literal(true),
            eventId: z.string(),
            signals: z.array(z.record(z.string(), z.unknown())),
          }),
          ...problems(503),
        },
      }),
      async (req) => {
        if (!providers.grid?.applySimpleSignal) throw unavailable('no grid service is running');
        const r = providers.grid.applySimpleSignal(req.body, 'http');
        if (!r.ok) {
          throw badRequest(
            `${r.errors.length} invalid field${r.errors.length === 1 ? '' : 's'}`,
            r.errors.map((e) => ({
              in: 'body',
              path: `body.${e.path}`,
              pointer: `/${e.path.replace(/\./g, '/').replace(/\[(\d+)\]/g, '/$1')}`,
              message: e.message,
            })),
          );
        }
        ctx.loop.notifyChange();
        return { ok: true as const, eventId: r.eventId, signals: r.signals.map((x) => ({ ...(x as object) })) };
      },
    );
  });
}
