import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { toCsv } from '../../integration/reports.js';
import { badRequest } from '../problem.js';
import { problems } from '../documented-errors.js';
import { negotiate } from '../negotiate.js';
import { toJsonSchema } from '../schema.js';
import { DAY_MS, type RouteDeps, rangeQuery, zodPlugin } from './deps.js';

const n = z.number();
const nn = z.number().nullable();
const DailyRow = z.object({
  day: z.string(),
  evEnergyWh: n,
  sessions: n,
  sessionEnergyWh: n,
  pvShare: n,
  batteryShare: n,
  gridShare: n,
  evPvEnergyWh: n,
  evBatteryEnergyWh: n,
  evGridEnergyWh: n,
  co2Kg: n,
  peakImportW: nn,
  gridImportWh: n,
  gridExportWh: n,
  pvEnergyWh: n,
  cost: n,
  currency: z.string(),
});
const SessionRow = z.object({
  sessionId: z.string(),
  chargerId: z.string(),
  evseId: z.string(),
  idTag: z.string().nullable(),
  vehicleId: z.string().nullable(),
  startedAt: z.string(),
  stoppedAt: z.string().nullable(),
  durationS: n,
  energyWh: n,
  pvShare: n,
  batteryShare: n,
  gridShare: n,
  co2Kg: n,
  cost: n,
  currency: z.string(),
});
const FleetRow = z.object({
  day: z.string(),
  vehicleId: z.string(),
  sessions: n,
  energyWh: n,
  cost: n,
  currency: z.string(),
  departureAt: z.string().nullable(),
  energyNeededWh: nn,
  deadlineMet: z.boolean().nullable(),
});
/** The report as JSON rows or as a CSV download, each documented under its own media type. */
const jsonOrCsv = <T extends z.ZodType>(row: T) => ({
  description: 'The rows as JSON, or as CSV (`Accept: text/csv` or `?format=csv`)',
  content: {
    'application/json': { schema: toJsonSchema(z.array(row), 'output') },
    'text/csv': { schema: { type: 'string', description: 'One header line, then one line per row' } },
  },
});

const Format = z.enum(['json', 'csv']).optional().describe('json or csv; overrides the Accept header');
const MEDIA = { json: 'application/json', csv: 'text/csv' } as const;
const formatFor = (format: 'json' | 'csv' | undefined, accept: string | undefined): 'json' | 'csv' =>
  format ?? (negotiate(accept, [MEDIA.json, MEDIA.csv]) === MEDIA.csv ? 'csv' : 'json');

/** Energy/ESG, session and fleet reports, as JSON or CSV downloads. */
export function reportRoutes({ ctx, integration }: RouteDeps): FastifyPluginAsync {
  return zodPlugin((r) => {
    const reportQuery = rangeQuery({ format: Format }, 366 * DAY_MS);
    const defaultRange = (q: { from?: number; to?: number }) => {
      const now = ctx.clock.now();
      const to = q.to ?? Math.floor(now / DAY_MS) * DAY_MS + DAY_MS;
      const from = q.from ?? to - 7 * DAY_MS;
      if (to <= from) {
        throw badRequest('1 invalid field', [
          { in: 'querystring', path: 'querystring.to', pointer: '/to', message: 'must be after from' },
        ]);
      }
      return { from, to };
    };
    const send = <T extends object>(
      reply: { type(t: string): unknown; header(k: string, v: string): unknown },
      format: 'json' | 'csv',
      name: string,
      rows: T[],
      csv: (rows: T[]) => string,
    ) => {
      reply.header('vary', 'accept');
      if (format === 'csv') {
        reply.type('text/csv; charset=utf-8');
        reply.header('content-disposition', `attachment; filename="${name}.csv"`);
        return csv(rows);
      }
      return rows;
    };

    /** One report route: JSON rows, or a CSV download named `<name>.csv`. */
    const report = <Row extends z.ZodType<object, object>>(
      path: string,
      name: string,
      doc: { tags: string[]; summary: string },
      row: Row,
      rows: (from: number, to: number) => z.input<Row>[],
    ) =>
      r.get(
        path,
        {
          schema: {
            ...doc,
            querystring: reportQuery,
            produces: [MEDIA.json, MEDIA.csv],
            response: { 200: jsonOrCsv(row), ...problems(406) },
          },
        },
        async (req, reply) => {
          const { from, to } = defaultRange(req.query);
          const format = formatFor(req.query.format, req.headers.accept);
          return send<z.input<Row>>(reply, format, name, rows(from, to), toCsv);
        },
      );

    report(
      '/api/v1/reports/daily',
      'daily-report',
      {
        tags: ['reports'],
        summary:
          'Energy/ESG per day (UTC): EV energy, PV and battery share, CO2, peak import, cost (default last 7 days)',
      },
      DailyRow,
      (from, to) => integration.reports.daily(from, to),
    );
    report(
      '/api/v1/reports/sessions',
      'session-report',
      { tags: ['reports'], summary: 'Per-session report: energy, duration, PV/battery/grid share, CO2, cost' },
      SessionRow,
      (from, to) => integration.reports.sessions(from, to, ctx.clock.now()),
    );
    report(
      '/api/v1/reports/fleet',
      'fleet-report',
      { tags: ['reports', 'vehicles'], summary: 'Fleet report per day and vehicle: energy, cost, deadlines met' },
      FleetRow,
      (from, to) => integration.reports.fleet(from, to),
    );
  });
}
