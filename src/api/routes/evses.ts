import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { summariseReasons } from '../../model/decision.js';
import { problems } from '../documented-errors.js';
import { unavailable } from '../problem.js';
import { amps, watts } from '../../integration/units.js';
import { CommandResultSchema, DAY_MS, IdParam, type RouteDeps, command, found, reading, zodPlugin } from './deps.js';
import { buildState, ReasonSchema } from './state.js';

const WrittenSetpoint = z.object({
  seq: z.number(),
  ts: z.string(),
  currentA: z.number(),
  powerW: z.number(),
  reason: z.string(),
  result: z.string(),
});
const SetpointHistory = z.array(WrittenSetpoint);

/** EVSEs, their set-points with reason chains and the audit log, and charger availability. */
export function evseRoutes({ ctx, integration, providers }: RouteDeps): FastifyPluginAsync {
  return zodPlugin((r) => {
    const EvseParams = z.object({ chargerId: z.string().min(1), connectorId: z.coerce.number().int().min(0) }).strict();
    r.get(
      '/api/v1/evses',
      reading('evses', {
        summary: 'Every EVSE with status, power, set-point and the reason for it',
        response: { 200: z.array(z.record(z.string(), z.unknown())) },
      }),
      async () => buildState(ctx).evses,
    );
    r.get(
      '/api/v1/evses/:chargerId/:connectorId',
      reading('evses', {
        summary: 'One EVSE (`<chargerId>/<connectorId>`), its set-point chain and recent set-point history',
        params: EvseParams,
        response: { 200: z.record(z.string(), z.unknown()) },
      }),
      async (req) => {
        const id = `${req.params.chargerId}/${req.params.connectorId}`;
        const e = found(
          buildState(ctx).evses.find((x) => x.id === id),
          'EVSE',
          id,
        );
        const history: z.infer<typeof SetpointHistory> = ctx.setpointAudit.recent(20, id).map((h) => ({
          seq: h.seq,
          ts: new Date(h.ts).toISOString(),
          currentA: amps(h.currentA),
          powerW: watts(h.powerW),
          reason: h.reason,
          result: h.result,
        }));
        const now = ctx.clock.now();
        return {
          ...e,
          uptime24hPct: integration.alerts.uptime(id, now - DAY_MS, now).uptimePct,
          uptime30dPct: integration.alerts.uptime(id, now - 30 * DAY_MS, now).uptimePct,
          setpointHistory: history,
        };
      },
    );
    r.post(
      '/api/v1/chargers/:id/availability',
      command('charger.availability', 'evses', {
        summary: 'Make a charger (or one connector) available or unavailable (OCPP ChangeAvailability)',
        params: IdParam,
        body: z.object({ available: z.boolean(), connectorId: z.number().int().min(0).optional() }).strict(),
        response: { 200: CommandResultSchema, ...problems(503) },
      }),
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
      reading('evses', {
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
            written: z.array(WrittenSetpoint.extend({ evseId: z.string() })),
          }),
        },
      }),
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
                    currentA: amps(sp.currentA),
                    powerW: watts(sp.powerW),
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
          currentA: amps(h.currentA),
          powerW: watts(h.powerW),
          reason: h.reason,
          result: h.result,
        }));
        return { current, written };
      },
    );
  });
}
