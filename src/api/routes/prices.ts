import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { badRequest } from '../problem.js';
import { DAY_MS, type RouteDeps, iso, rangeQuery, reading, zodPlugin } from './deps.js';

const MAX_POINTS = 2000;

/** The tariff as a timeline (import and export price per kWh), for planning views and the dashboard. */
export function priceRoutes(d: RouteDeps): FastifyPluginAsync {
  const { ctx, providers } = d;
  return zodPlugin((r) => {
    r.get(
      '/api/v1/grid/prices',
      reading('grid', {
        summary: 'Tariff timeline: import and export price per kWh on a grid of `step` ms (empty without a tariff)',
        querystring: rangeQuery(
          {
            step: z.coerce
              .number()
              .int()
              .min(60_000)
              .max(DAY_MS)
              .default(900_000)
              .describe('Distance between points, ms'),
          },
          7 * DAY_MS,
        ),
        response: {
          200: z.object({
            from: z.string(),
            to: z.string(),
            step: z.number().int(),
            currency: z.string().nullable(),
            points: z.array(z.object({ ts: z.string(), importPerKwh: z.number(), exportPerKwh: z.number() }).strict()),
          }),
        },
      }),
      async (req) => {
        const now = ctx.clock.now();
        const step = req.query.step;
        const from = req.query.from ?? Math.floor((now - 6 * 3_600_000) / step) * step;
        const to = req.query.to ?? from + DAY_MS;
        if ((to - from) / step > MAX_POINTS) {
          throw badRequest('1 invalid field', [
            {
              in: 'querystring',
              path: 'querystring.step',
              pointer: '/step',
              message: `more than ${MAX_POINTS} points; use a longer step`,
            },
          ]);
        }
        const series = providers.grid?.prices?.(from, to, step) ?? [];
        return {
          from: iso(from) ?? '',
          to: iso(to) ?? '',
          step,
          currency: series[0]?.currency ?? null,
          points: series.map((p) => ({
            ts: iso(p.ts) ?? '',
            importPerKwh: Math.round(p.importPerKwh * 10_000) / 10_000,
            exportPerKwh: Math.round(p.exportPerKwh * 10_000) / 10_000,
          })),
        };
      },
    );
  });
}
