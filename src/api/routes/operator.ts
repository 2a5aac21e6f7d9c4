import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { problems } from '../documented-errors.js';
import { unavailable } from '../problem.js';
import type { OperatorControls } from '../providers.js';
import { type RouteDeps, command, found, iso, listing, zodPlugin } from './deps.js';
import { buildState } from './state.js';

const EvseParams = z.object({ chargerId: z.string().min(1).max(128), connectorId: z.coerce.number().int().min(0) });

const CapView = z.object({
  evseId: z.string(),
  maxCurrentA: z.number().describe('Operator cap, A per phase; 0 means paused'),
  paused: z.boolean(),
  by: z.string(),
  since: z.string(),
});

/**
 * Pause and resume one EVSE by hand. A pause is an operator cap of 0 A
 * (contract tier, `policies/operator-commands.ts`): the allocator pauses the
 * session with that reason, and the cap can never lift a safety or grid limit.
 */
export function operatorRoutes(d: RouteDeps): FastifyPluginAsync {
  const { ctx, providers } = d;
  const controls = (): OperatorControls => {
    if (!providers.operator) throw unavailable('no operator commands are wired');
    return providers.operator;
  };
  const caps = () =>
    controls()
      .input(ctx.clock.now())
      .caps.map((c) => ({
        evseId: c.evseId,
        maxCurrentA: c.maxCurrentA,
        paused: c.maxCurrentA === 0,
        by: c.by,
        since: iso(c.since) ?? '',
      }));
  const evseId = (p: { chargerId: string; connectorId: number }) => {
    const id = `${p.chargerId}/${p.connectorId}`;
    return found(
      buildState(ctx).evses.find((e) => e.id === id),
      'EVSE',
      id,
    ).id;
  };
  return zodPlugin((r) => {
    listing(r, '/api/v1/operator/caps', {
      tag: 'evses',
      summary: "The operator's manual EVSE caps in force (paused EVSEs have a 0 A cap)",
      response: CapView,
      list: caps,
      problems: [503],
    });
    r.put(
      '/api/v1/evses/:chargerId/:connectorId/pause',
      command('evse.pause', 'evses', {
        summary: 'Pause one EVSE until resumed (operator cap of 0 A; the allocator pauses its session)',
        params: EvseParams,
        response: { 200: z.array(CapView), ...problems(503) },
      }),
      async (req) => {
        controls().setEvseCap(evseId(req.params), 0, req.principal?.name ?? 'unknown');
        return caps();
      },
    );
    r.delete(
      '/api/v1/evses/:chargerId/:connectorId/pause',
      command('evse.resume', 'evses', {
        summary: "Resume a paused EVSE (removes the operator's cap)",
        params: EvseParams,
        response: { 200: z.array(CapView), ...problems(503) },
      }),
      async (req) => {
        controls().setEvseCap(evseId(req.params), null, req.principal?.name ?? 'unknown');
        return caps();
      },
    );
  });
}
