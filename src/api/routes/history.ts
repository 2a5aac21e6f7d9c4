import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { badRequest } from '../problem.js';
import { DAY_MS, iso, type RouteDeps, rangeQuery, reading, zodPlugin } from './deps.js';

/** Telemetry history from the SQLite ring. */
export function historyRoutes({ ctx }: RouteDeps): FastifyPluginAsync {
  return zodPlugin((r) => {
    r.get(
      '/api/v1/history',
      reading('site', {
        summary: 'Telemetry history from the SQLite ring (series e.g. grid.powerW,pv.powerW,evses.powerW)',
        querystring: rangeQuery(
          {
            series: z
              .string()
              .min(1)
              .transform((s) =>
                s
                  .split(',')
                  .map((x) => x.trim())
                  .filter(Boolean),
              )
              .pipe(
                z
                  .array(z.string().regex(/^[A-Za-z0-9_./-]+$/))
                  .min(1)
                  .max(20),
              )
              .describe('Comma-separated series names; GET /api/v1/history/series lists them'),
            step: z.coerce.number().int().min(1000).optional().describe('Average into buckets of this many ms'),
          },
          31 * DAY_MS,
        ),
        response: {
          200: z.object({
            from: z.string(),
            to: z.string(),
            step: z.number().nullable(),
            series: z.record(z.string(), z.array(z.tuple([z.number(), z.number()]))),
          }),
        },
      }),
      async (req) => {
        const now = ctx.clock.now();
        const to = req.query.to ?? now + 1;
        const from = req.query.from ?? to - 3_600_000;
        if (to <= from) {
          throw badRequest('1 invalid field', [
            { in: 'querystring', path: 'querystring.from', pointer: '/from', message: 'must be before to' },
          ]);
        }
        const series: Record<string, Array<[number, number]>> = {};
        for (const s of req.query.series) {
          series[s] = ctx.telemetry.query(s, from, to, req.query.step).map((p) => [p.ts, p.value]);
        }
        return { from: iso(from) ?? '', to: iso(to) ?? '', step: req.query.step ?? null, series };
      },
    );
    r.get(
      '/api/v1/history/series',
      reading('site', {
        summary: 'Names of the recorded telemetry series',
        response: { 200: z.array(z.string()) },
      }),
      async () => ctx.telemetry.series(),
    );
  });
}
