import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { ZodTypeProvider } from '../schema.js';
import { type RouteDeps, getById, reading } from './deps.js';
import { buildState, DeviceSchema } from './state.js';

/** Field devices and their link state. */
export function deviceRoutes(d: RouteDeps): FastifyPluginAsync {
  const { ctx } = d;
  return async (app) => {
    const r = app.withTypeProvider<ZodTypeProvider>();
    r.get(
      '/api/v1/devices',
      reading('devices', {
        summary: 'Field devices and their link state',
        response: { 200: z.array(DeviceSchema) },
      }),
      async () => buildState(ctx).devices,
    );
    getById(r, '/api/v1/devices/:id', {
      tag: 'devices',
      noun: 'device',
      response: DeviceSchema,
      find: (id) => buildState(ctx).devices.find((x) => x.id === id),
      view: (dev) => dev,
    });
  };
}
