import type { FastifyPluginAsync } from 'fastify';
import { collection, type RouteDeps, zodPlugin } from './deps.js';
import { buildState, DeviceSchema } from './state.js';

/** Field devices and their link state. */
export function deviceRoutes({ ctx, heard }: RouteDeps): FastifyPluginAsync {
  return zodPlugin((r) =>
    collection(r, '/api/v1/devices', {
      tag: 'devices',
      noun: 'device',
      summary: 'Field devices and their link state',
      response: DeviceSchema,
      list: () => buildState(ctx, heard ? { heard } : {}).devices,
      find: (id) => buildState(ctx, heard ? { heard } : {}).devices.find((x) => x.id === id),
      view: (dev) => dev,
    }),
  );
}
