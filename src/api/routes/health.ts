import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { GatewayContext } from '../../context.js';
import { reading, zodPlugin } from './deps.js';

export interface HealthOptions {
  readonly ready: () => boolean;
}

export function healthRoutes(ctx: GatewayContext, opts: HealthOptions): FastifyPluginAsync {
  return zodPlugin((r) => {
    const Health = z.object({ status: z.enum(['ok', 'starting']), ts: z.string() });
    r.get(
      '/healthz',
      reading(
        'ops',
        {
          summary: 'Readiness: 200 once the gateway runs, 503 before',
          response: { 200: Health, 503: Health },
        },
        'public',
      ),
      async (_req, reply) => {
        const ts = new Date(ctx.clock.now()).toISOString();
        if (!opts.ready()) return reply.code(503).send({ status: 'starting', ts });
        return { status: 'ok' as const, ts };
      },
    );
    r.get(
      '/metrics',
      reading('ops', {
        summary: 'Prometheus metrics of the gateway (text exposition format)',
        produces: ['text/plain'],
        response: { 200: z.string() },
      }),
      async (_req, reply) => {
        const body = await ctx.metrics.metrics();
        return reply
          .type(ctx.metrics.contentType)
          .serializer((x) => x as string)
          .send(body);
      },
    );
  });
}
