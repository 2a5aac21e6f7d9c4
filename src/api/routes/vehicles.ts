import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { VehicleSchema } from '../../integration/vehicles.js';
import { NO_CONTENT } from '../documented-errors.js';
import { notFound } from '../problem.js';
import { TimeParam } from '../schema.js';
import { IdParam, type RouteDeps, iso, command, found, zodPlugin, collection } from './deps.js';

const NeedsView = z.object({
  departureAt: z.string(),
  energyNeededWh: z.number().optional(),
  targetSocPct: z.number().optional(),
  currentSocPct: z.number().optional(),
  allowV2g: z.boolean().optional(),
  minSocPct: z.number().optional(),
});

const VehicleView = z.object({
  id: z.string(),
  name: z.string().optional(),
  idTags: z.array(z.string()),
  batteryCapacityWh: z.number().optional(),
  maxPowerW: z.number().optional(),
  phases: z.number().optional(),
  needs: NeedsView.nullable(),
  updatedAt: z.string(),
});

const NeedsBody = z
  .object({
    departureAt: TimeParam.describe('When the vehicle leaves (epoch ms or ISO)'),
    energyNeededWh: z.number().nonnegative().optional(),
    targetSocPct: z.number().min(0).max(100).optional(),
    currentSocPct: z.number().min(0).max(100).optional(),
    allowV2g: z.boolean().optional(),
    minSocPct: z.number().min(0).max(100).optional(),
  })
  .strict()
  .superRefine((b, c) => {
    if (b.energyNeededWh === undefined && b.targetSocPct === undefined)
      c.addIssue({ code: 'custom', path: ['energyNeededWh'], message: 'give energyNeededWh or targetSocPct' });
  });

export function vehicleRoutes({ ctx, integration }: RouteDeps): FastifyPluginAsync {
  const view = (v: ReturnType<typeof integration.vehicles.list>[number]): z.infer<typeof VehicleView> => ({
    ...v,
    needs: v.needs ? { ...v.needs, departureAt: iso(v.needs.departureAt) ?? '' } : null,
    updatedAt: iso(v.updatedAt) ?? '',
  });
  return zodPlugin((r) => {
    collection(r, '/api/v1/vehicles', {
      tag: 'vehicles',
      noun: 'vehicle',
      summary: 'Fleet vehicles and their needs',
      response: VehicleView,
      list: () => integration.vehicles.list(),
      find: (id) => integration.vehicles.get(id),
      view,
    });
    r.put(
      '/api/v1/vehicles/:id',
      command('vehicle.upsert', 'vehicles', {
        summary: 'Create or replace a vehicle (tokens, capacity); keeps its needs unless given',
        params: IdParam,
        body: VehicleSchema.omit({ id: true }),
        response: { 200: VehicleView },
      }),
      async (req) => view(integration.vehicles.upsert({ ...req.body, id: req.params.id })),
    );
    r.delete(
      '/api/v1/vehicles/:id',
      command('vehicle.delete', 'vehicles', { summary: 'Remove a vehicle', params: IdParam, response: NO_CONTENT }),
      async (req, reply) => {
        if (!integration.vehicles.remove(req.params.id)) throw notFound(`no vehicle ${req.params.id}`);
        return reply.code(204).send();
      },
    );
    r.put(
      '/api/v1/vehicles/:id/needs',
      command('vehicle.needs.set', 'vehicles', {
        summary: "Set a vehicle's needs: departure time and energy (or target SoC); policies plan with them",
        params: IdParam,
        body: NeedsBody,
        response: { 200: VehicleView },
      }),
      async (req) => {
        const v = integration.vehicles.setNeeds(req.params.id, req.body);
        ctx.loop.notifyChange();
        return view(v);
      },
    );
    r.delete(
      '/api/v1/vehicles/:id/needs',
      command('vehicle.needs.clear', 'vehicles', {
        summary: "Clear a vehicle's needs",
        params: IdParam,
        response: { 200: VehicleView },
      }),
      async (req) => {
        return view(found(integration.vehicles.clearNeeds(req.params.id), 'vehicle', req.params.id));
      },
    );
  });
}
