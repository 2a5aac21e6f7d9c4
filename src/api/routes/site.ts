import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { summariseReasons } from '../../model/decision.js';
import { badRequest, notFound, unavailable } from '../problem.js';
import { TimeParam, type ZodTypeProvider } from '../schema.js';
import { CommandResultSchema, IdParam, type RouteDeps, iso } from './deps.js';
import { ReasonSchema, buildState } from './state.js';

const OverrideSchema = z.object({
  active: z.boolean(),
  limitW: z.number().nullable(),
  until: z.string().nullable(),
  reason: z.string().nullable(),
  setBy: z.string().nullable(),
});

const OverrideBody = z
  .object({
    limitW: z.number().nonnegative().describe('Temporary site import limit, W'),
    until: TimeParam.optional().describe('End of the override (epoch ms or ISO); or give durationS'),
    durationS: z
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .optional(),
    reason: z.string().max(500).default('operator override'),
  })
  .strict()
  .superRefine((b, c) => {
    if ((b.until === undefined) === (b.durationS === undefined))
      c.addIssue({ code: 'custom', path: ['durationS'], message: 'give exactly one of until or durationS' });
  });

const DeviceSchema = z.object({
  id: z.string(),
  protocol: z.string(),
  kind: z.string(),
  online: z.boolean(),
  lastSeen: z.string().nullable(),
  error: z.string().nullable(),
});

const SetpointHistory = z.array(
  z.object({
    seq: z.number(),
    ts: z.string(),
    currentA: z.number(),
    powerW: z.number(),
    reason: z.string(),
    result: z.string(),
  }),
);

export function siteRoutes(d: RouteDeps): FastifyPluginAsync {
  const { ctx, integration, providers } = d;
  const overrideView = () => {
    const o = integration.siteOverride.active();
    return o
      ? { active: true, limitW: o.limitW, until: iso(o.until), reason: o.reason, setBy: o.setBy }
      : { active: false, limitW: null, until: null, reason: null, setBy: null };
  };
  return async (app) => {
    const r = app.withTypeProvider<ZodTypeProvider>();
    r.get(
      '/api/v1/site',
      {
        schema: {
          tags: ['site'],
          summary: 'Site configuration, limits in force and the active override',
          response: {
            200: z.object({
              id: z.string(),
              name: z.string(),
              contractLimitW: z.number(),
              limitW: z.number(),
              failsafeLimitW: z.number(),
              failsafe: z.boolean(),
              limitReasons: z.array(ReasonSchema),
              override: OverrideSchema,
              circuits: z.array(z.object({ id: z.string(), parent: z.string(), maxCurrentA: z.number() })),
            }),
          },
        },
      },
      async () => {
        const s = buildState(ctx);
        return {
          id: ctx.config.site.id,
          name: ctx.config.site.name,
          contractLimitW: ctx.config.site.limitW,
          limitW: s.site.limitW,
          failsafeLimitW: ctx.config.site.failsafeLimitW,
          failsafe: s.site.failsafe,
          limitReasons: s.site.reasons,
          override: overrideView(),
          circuits: ctx.config.site.circuits.map((c) => ({ id: c.id, parent: c.parent, maxCurrentA: c.maxCurrentA })),
        };
      },
    );
    r.get(
      '/api/v1/site/limit-override',
      {
        schema: {
          tags: ['site'],
          summary: 'The temporary site-limit override in force',
          response: { 200: OverrideSchema },
        },
      },
      async () => overrideView(),
    );
    r.put(
      '/api/v1/site/limit-override',
      {
        config: { auth: 'control', command: 'site.limit-override.set' },
        schema: {
          tags: ['site', 'commands'],
          summary: 'Set a temporary site import limit with an expiry (can only tighten, never lift safety limits)',
          body: OverrideBody,
          response: { 200: OverrideSchema },
        },
      },
      async (req) => {
        const now = ctx.clock.now();
        const b = req.body;
        const until = b.until ?? now + (b.durationS ?? 0) * 1000;
        if (until <= now) {
          throw badRequest('1 invalid field', [
            { in: 'body', path: 'body.until', pointer: '/until', message: 'must be in the future' },
          ]);
        }
        integration.siteOverride.set({
          limitW: b.limitW,
          until,
          reason: b.reason,
          setBy: req.principal?.name ?? 'unknown',
        });
        ctx.loop.notifyChange();
        return overrideView();
      },
    );
    r.delete(
      '/api/v1/site/limit-override',
      {
        config: { auth: 'control', command: 'site.limit-override.clear' },
        schema: { tags: ['site', 'commands'], summary: 'End the override now', response: { 200: OverrideSchema } },
      },
      async () => {
        integration.siteOverride.clear();
        ctx.loop.notifyChange();
        return overrideView();
      },
    );

    r.get(
      '/api/v1/devices',
      {
        schema: {
          tags: ['devices'],
          summary: 'Field devices and their link state',
          response: { 200: z.array(DeviceSchema) },
        },
      },
      async () => buildState(ctx).devices,
    );
    r.get(
      '/api/v1/devices/:id',
      { schema: { tags: ['devices'], summary: 'One device', params: IdParam, response: { 200: DeviceSchema } } },
      async (req) => {
        const dev = buildState(ctx).devices.find((x) => x.id === req.params.id);
        if (!dev) throw notFound(`no device ${req.params.id}`);
        return dev;
      },
    );

    const EvseParams = z.object({ chargerId: z.string().min(1), connectorId: z.coerce.number().int().min(0) }).strict();
    r.get(
      '/api/v1/evses',
      {
        schema: {
          tags: ['evses'],
          summary: 'Every EVSE with status, power, set-point and the reason for it',
          response: { 200: z.array(z.record(z.string(), z.unknown())) },
        },
      },
      async () => buildState(ctx).evses,
    );
    r.get(
      '/api/v1/evses/:chargerId/:connectorId',
      {
        schema: {
          tags: ['evses'],
          summary: 'One EVSE (`<chargerId>/<connectorId>`), its set-point chain and recent set-point history',
          params: EvseParams,
          response: { 200: z.record(z.string(), z.unknown()) },
        },
      },
      async (req) => {
        const id = `${req.params.chargerId}/${req.params.connectorId}`;
        const e = buildState(ctx).evses.find((x) => x.id === id);
        if (!e) throw notFound(`no EVSE ${id}`);
        const history: z.infer<typeof SetpointHistory> = ctx.setpointAudit.recent(20, id).map((h) => ({
          seq: h.seq,
          ts: new Date(h.ts).toISOString(),
          currentA: h.currentA,
          powerW: h.powerW,
          reason: h.reason,
          result: h.result,
        }));
        const day = 86_400_000;
        const now = ctx.clock.now();
        return {
          ...e,
          uptime24hPct: integration.alerts.uptime(id, now - day, now).uptimePct,
          uptime30dPct: integration.alerts.uptime(id, now - 30 * day, now).uptimePct,
          setpointHistory: history,
        };
      },
    );
    r.post(
      '/api/v1/chargers/:id/availability',
      {
        config: { auth: 'control', command: 'charger.availability' },
        schema: {
          tags: ['evses', 'commands'],
          summary: 'Make a charger (or one connector) available or unavailable (OCPP ChangeAvailability)',
          params: IdParam,
          body: z.object({ available: z.boolean(), connectorId: z.number().int().min(0).optional() }).strict(),
          response: { 200: CommandResultSchema },
        },
      },
      async (req) => {
        if (!providers.ocpp) throw unavailable('no OCPP proxy is running');
        return providers.ocpp.setAvailability({
          chargerId: req.params.id,
          available: req.body.available,
          ...(req.body.connectorId !== undefined ? { connectorId: req.body.connectorId } : {}),
        });
      },
    );
    r.get(
      '/api/v1/setpoints',
      {
        schema: {
          tags: ['evses'],
          summary: 'Set-points the loop wants now with their reason chains, plus the audit log of written ones',
          querystring: z
            .object({ evseId: z.string().optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) })
            .strict(),
          response: {
            200: z.object({
              current: z.array(
                z.object({
                  evseId: z.string(),
                  currentA: z.number(),
                  powerW: z.number(),
                  phases: z.number(),
                  reason: z.string(),
                  reasons: z.array(ReasonSchema),
                }),
              ),
              written: SetpointHistory,
            }),
          },
        },
      },
      async (req) => {
        const snap = ctx.state.snapshot();
        const current = snap.evses
          .filter((e) => !req.query.evseId || e.id === req.query.evseId)
          .flatMap((e) => {
            const sp = ctx.dispatcher.current(e.id);
            return sp
              ? [
                  {
                    evseId: e.id,
                    currentA: sp.currentA,
                    powerW: sp.powerW,
                    phases: sp.phases,
                    reason: summariseReasons(sp.reasons),
                    reasons: [...sp.reasons],
                  },
                ]
              : [];
          });
        const written = ctx.setpointAudit.recent(req.query.limit, req.query.evseId).map((h) => ({
          seq: h.seq,
          ts: new Date(h.ts).toISOString(),
          evseId: h.evseId,
          currentA: h.currentA,
          powerW: h.powerW,
          reason: h.reason,
          result: h.result,
        }));
        return { current, written };
      },
    );
  };
}
