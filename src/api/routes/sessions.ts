import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { SessionInfo } from '../../bus/events.js';
import { sessionData } from '../../integration/events.js';
import { problems } from '../documented-errors.js';
import { conflict, unavailable } from '../problem.js';
import { watts } from '../../integration/units.js';
import {
  CommandResultSchema,
  IdParam,
  Paging,
  type RouteDeps,
  paged,
  rangeQuery,
  command,
  getById,
  found,
  reading,
  zodPlugin,
} from './deps.js';

export const SessionSchema = z.object({
  sessionId: z.string(),
  chargerId: z.string(),
  connectorId: z.number().int(),
  evseId: z.string(),
  idTag: z.string().nullable(),
  vehicleId: z.string().nullable(),
  startedAt: z.string(),
  stoppedAt: z.string().nullable(),
  durationS: z.number(),
  energyWh: z.number(),
  cost: z.number().nullable(),
  currency: z.string().nullable(),
  co2G: z.number().nullable(),
  stopReason: z.string().nullable(),
  upstreamTransactionId: z.string().nullable(),
  syncState: z.string(),
});

export function sessionRoutes({ ctx, integration, providers }: RouteDeps): FastifyPluginAsync {
  const enrich = {
    costOf: (wh: number) => integration.reports.costOf(wh),
    co2Of: (wh: number, at: number) => (wh / 1000) * integration.reports.intensity(at),
    vehicleFor: (tag: string | undefined) => integration.vehicles.byIdTag(tag)?.id,
  };
  /**
   * A running session's energy as the charger's meter shows it now: the session store learns it
   * only from the messages that carry it (transaction events, sampled meter values), while the
   * live state follows every reading, so a fresh session would read 0 Wh beside 18 Wh live.
   */
  const withLiveEnergy = (s: SessionInfo): SessionInfo => {
    if (s.stoppedAt !== undefined) return s;
    const live = ctx.state.snapshot().evses.find((e) => e.sessionId === s.id)?.sessionEnergyWh;
    return live !== undefined && live > s.energyWh ? { ...s, energyWh: live } : s;
  };
  const view = (stored: SessionInfo) => {
    const s = withLiveEnergy(stored);
    const data = sessionData(s, ctx.clock.now(), enrich);
    return { ...data, energyWh: watts(s.energyWh), syncState: s.syncState } as z.infer<typeof SessionSchema>;
  };
  return zodPlugin((r) => {
    r.get(
      '/api/v1/sessions',
      reading('sessions', {
        summary: 'Charging sessions, newest first; filter by time (start), charger, idTag or vehicle; paged',
        querystring: rangeQuery({
          chargerId: z.string().min(1).optional(),
          idTag: z.string().min(1).optional(),
          vehicleId: z.string().min(1).optional(),
          ...Paging,
        }),
        response: { 200: paged(SessionSchema) },
      }),
      async (req) => {
        const q = req.query;
        const base = {
          ...(q.chargerId ? { chargerId: q.chargerId } : {}),
          ...(q.from !== undefined ? { from: q.from } : {}),
          ...(q.to !== undefined ? { to: q.to } : {}),
        };
        let items: SessionInfo[];
        if (q.vehicleId) {
          const v = found(integration.vehicles.get(q.vehicleId), 'vehicle', q.vehicleId);
          const tags = q.idTag ? v.idTags.filter((t) => t === q.idTag) : v.idTags;
          const all = tags.flatMap((t) => ctx.sessions.list({ ...base, idTag: t, limit: q.offset + q.limit + 1 }));
          all.sort((a, b) => b.startedAt - a.startedAt || a.id.localeCompare(b.id));
          items = all.slice(q.offset, q.offset + q.limit + 1);
        } else {
          items = ctx.sessions.list({
            ...base,
            ...(q.idTag ? { idTag: q.idTag } : {}),
            limit: q.limit + 1,
            offset: q.offset,
          });
        }
        const more = items.length > q.limit;
        return {
          items: items.slice(0, q.limit).map(view),
          limit: q.limit,
          offset: q.offset,
          nextOffset: more ? q.offset + q.limit : null,
        };
      },
    );
    getById(r, '/api/v1/sessions/:id', {
      tag: 'sessions',
      noun: 'session',
      response: SessionSchema,
      find: (id) => ctx.sessions.get(id),
      view,
    });
    r.post(
      '/api/v1/sessions/remote-start',
      command('session.remote-start', 'sessions', {
        summary: 'Start a session remotely (OCPP RemoteStartTransaction)',
        body: z
          .object({
            chargerId: z.string().min(1),
            connectorId: z.number().int().min(1).optional(),
            idTag: z.string().min(1).max(36),
          })
          .strict(),
        response: { 200: CommandResultSchema, ...problems(503) },
      }),
      async (req) => {
        if (!providers.ocpp) throw unavailable('no OCPP proxy is running');
        return providers.ocpp.remoteStart(req.body);
      },
    );
    r.post(
      '/api/v1/sessions/:id/remote-stop',
      command('session.remote-stop', 'sessions', {
        summary: 'Stop a session remotely (OCPP RemoteStopTransaction)',
        params: IdParam,
        response: { 200: CommandResultSchema, ...problems(409, 503) },
      }),
      async (req) => {
        const s = found(ctx.sessions.get(req.params.id), 'session', req.params.id);
        if (s.stoppedAt !== undefined) throw conflict(`session ${s.id} already stopped`);
        if (!providers.ocpp) throw unavailable('no OCPP proxy is running');
        return providers.ocpp.remoteStop({
          sessionId: s.id,
          chargerId: s.chargerId,
          ...(s.chargerTransactionId !== undefined ? { transactionId: s.chargerTransactionId } : {}),
        });
      },
    );
  });
}
