import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { GridStatusSchema, SimpleSignalSchema } from '../../grid/service.js';
import { toCsv } from '../../integration/reports.js';
import { badRequest, unavailable } from '../problem.js';
import type { ZodTypeProvider } from '../schema.js';
import { type RouteDeps, iso, rangeQuery } from './deps.js';

const DAY_MS = 86_400_000;

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
const csvOr = <T extends z.ZodType>(row: T) => z.union([z.array(row), z.string().describe('text/csv when format=csv')]);

const Format = z.enum(['json', 'csv']).default('json').describe('json, or csv for a download');

/** Grid events, alerts, uptime, reports and history: the read side for operators. */
export function operationsRoutes(d: RouteDeps): FastifyPluginAsync {
  const { ctx, integration, providers } = d;
  return async (app) => {
    const r = app.withTypeProvider<ZodTypeProvider>();

    r.get(
      '/api/v1/grid/events',
      {
        schema: {
          tags: ['grid'],
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
        },
      },
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
      {
        schema: {
          tags: ['grid'],
          summary: 'Grid signals in force and next, their sources, the fallback and the tariff now',
          response: { 200: GridStatusSchema },
        },
      },
      async () => {
        if (!providers.grid?.status) throw unavailable('no grid service is running');
        return providers.grid.status() as z.input<typeof GridStatusSchema>;
      },
    );
    r.post(
      '/api/v1/grid/limit',
      {
        config: { auth: 'control', command: 'grid.limit' },
        schema: {
          tags: ['grid', 'commands'],
          summary: 'Simple DR signal for utilities without OpenADR: an import/export limit or set-point with an expiry',
          body: SimpleSignalSchema,
          response: {
            200: z.object({
              ok: z.literal(true),
              eventId: z.string(),
              signals: z.array(z.record(z.string(), z.unknown())),
            }),
          },
        },
      },
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

    r.get(
      '/api/v1/alerts',
      {
        schema: {
          tags: ['alerts'],
          summary: 'Maintenance alerts: active ones, or the history in a time range',
          querystring: rangeQuery({
            active: z
              .enum(['true', 'false'])
              .default('true')
              .transform((s) => s === 'true'),
            limit: z.coerce.number().int().min(1).max(1000).default(200),
          }),
          response: { 200: z.array(AlertView) },
        },
      },
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
      {
        schema: {
          tags: ['alerts'],
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
        },
      },
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
      if (format === 'csv') {
        reply.type('text/csv; charset=utf-8');
        reply.header('content-disposition', `attachment; filename="${name}.csv"`);
        return csv(rows);
      }
      return rows;
    };

    r.get(
      '/api/v1/reports/daily',
      {
        schema: {
          tags: ['reports'],
          summary:
            'Energy/ESG per day (UTC): EV energy, PV and battery share, CO2, peak import, cost (default last 7 days)',
          querystring: reportQuery,
          produces: ['application/json', 'text/csv'],
          response: { 200: csvOr(DailyRow) },
        },
      },
      async (req, reply) => {
        const { from, to } = defaultRange(req.query);
        const rows = integration.reports.daily(from, to);
        return send(reply, req.query.format, 'daily-report', rows, toCsv);
      },
    );
    r.get(
      '/api/v1/reports/sessions',
      {
        schema: {
          tags: ['reports'],
          summary: 'Per-session report: energy, duration, PV/battery/grid share, CO2, cost',
          querystring: reportQuery,
          produces: ['application/json', 'text/csv'],
          response: { 200: csvOr(SessionRow) },
        },
      },
      async (req, reply) => {
        const { from, to } = defaultRange(req.query);
        const rows = integration.reports.sessions(from, to, ctx.clock.now());
        return send(reply, req.query.format, 'session-report', rows, toCsv);
      },
    );
    r.get(
      '/api/v1/reports/fleet',
      {
        schema: {
          tags: ['reports', 'vehicles'],
          summary: 'Fleet report per day and vehicle: energy, cost, deadlines met',
          querystring: reportQuery,
          produces: ['application/json', 'text/csv'],
          response: { 200: csvOr(FleetRow) },
        },
      },
      async (req, reply) => {
        const { from, to } = defaultRange(req.query);
        const rows = integration.reports.fleet(from, to);
        return send(reply, req.query.format, 'fleet-report', rows, toCsv);
      },
    );

    r.get(
      '/api/v1/history',
      {
        schema: {
          tags: ['site'],
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
        },
      },
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
      {
        schema: {
          tags: ['site'],
          summary: 'Names of the recorded telemetry series',
          response: { 200: z.array(z.string()) },
        },
      },
      async () => ctx.telemetry.series(),
    );
  };
}
