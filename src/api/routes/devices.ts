import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { notFound } from '../problem.js';
import type { ZodTypeProvider } from '../schema.js';
import { IdParam, type RouteDeps } from './deps.js';
import { buildState, DeviceSchema } from './state.js';

/** Field devices and their link state. */
export function deviceRoutes(d: RouteDeps): FastifyPluginAsync {
  const { ctx } = d;
  return async (app) => {
    const r = app.withTypeProvider<ZodTypeProvider>();
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
  };
}
