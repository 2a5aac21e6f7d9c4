import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { SiteSnapshot } from '../../model/site.js';
import { type RouteDeps, iso, listing, zodPlugin } from './deps.js';

const PlanStatus = z.enum(['no-needs', 'not-plugged-in', 'done', 'on-track', 'at-risk', 'infeasible', 'departed']);

const PlanView = z.object({
  vehicleId: z.string(),
  name: z.string().nullable(),
  evseId: z.string().nullable().describe('EVSE whose session carries one of the vehicle’s id tags'),
  departureAt: z.string().nullable(),
  energyNeededWh: z.number().int().nullable().describe('Energy wanted in this session, Wh'),
  deliveredWh: z.number().int().nullable().describe('Energy delivered in the current session, Wh'),
  remainingWh: z.number().int().nullable(),
  setpointW: z.number().int().nullable().describe('Power the control loop allows now, W'),
  maxW: z.number().int().nullable().describe('Most the EVSE (and vehicle) can take, W'),
  projectedWh: z.number().int().nullable().describe('Delivered by departure if the set-point stayed as it is now, Wh'),
  status: PlanStatus.describe(
    'on-track: the set-point now suffices; at-risk: needs more than now but fits at full power; infeasible: not even at full power',
  ),
  reason: z.string().nullable().describe('What the fleet policy says about it, when it says something'),
});

type Vehicle = { id: string; name?: string; idTags: readonly string[]; maxPowerW?: number; batteryCapacityWh?: number };
type Needs = { departureAt: number; energyNeededWh?: number; targetSocPct?: number; currentSocPct?: number };

/** Energy the needs ask for, Wh: given directly or from the state of charge and the capacity. */
function neededWh(v: Vehicle, n: Needs): number | null {
  if (n.energyNeededWh !== undefined) return n.energyNeededWh;
  if (n.targetSocPct !== undefined && n.currentSocPct !== undefined && v.batteryCapacityWh !== undefined)
    return (Math.max(0, n.targetSocPct - n.currentSocPct) / 100) * v.batteryCapacityWh;
  return null;
}

/**
 * Each vehicle beside its deadline: where it is plugged in, what it needs,
 * what it got, and whether it will make its departure at the set-point it
 * has now or only at full power. Derived from the vehicle store, the process
 * image and the dispatcher, so it is what the control loop sees.
 */
export function fleetPlanRoutes(d: RouteDeps): FastifyPluginAsync {
  const { ctx, integration } = d;
  const plan = (now: number, snap: SiteSnapshot): Array<z.infer<typeof PlanView>> =>
    integration.vehicles.list().map((v) => {
      const evse = snap.evses.find((e) => e.idTag !== undefined && v.idTags.includes(e.idTag));
      const sp = evse ? ctx.dispatcher.current(evse.id) : undefined;
      const n = v.needs;
      const need = n ? neededWh(v, n) : null;
      const delivered = evse ? (evse.sessionEnergyWh ?? 0) : null;
      const remaining = need !== null && delivered !== null ? Math.max(0, need - delivered) : need;
      const evseMax = evse ? evse.maxCurrentA * evse.phases * evse.voltageV : null;
      const maxW = evseMax === null ? null : Math.min(evseMax, v.maxPowerW ?? Number.POSITIVE_INFINITY);
      const hoursLeft = n ? Math.max(0, n.departureAt - now) / 3_600_000 : 0;
      const setpointW = sp ? Math.max(0, sp.powerW) : evse ? 0 : null;
      const projected = delivered !== null && setpointW !== null ? delivered + setpointW * hoursLeft : null;
      const fleetReason = sp?.reasons.find((r) => r.tier === 'fleet')?.text ?? null;
      let status: z.infer<typeof PlanStatus>;
      if (!n || need === null) status = 'no-needs';
      else if (n.departureAt <= now) status = 'departed';
      else if (!evse) status = 'not-plugged-in';
      else if ((remaining ?? 0) <= 0) status = 'done';
      else if ((setpointW ?? 0) * hoursLeft >= (remaining ?? 0)) status = 'on-track';
      else if ((maxW ?? 0) * hoursLeft >= (remaining ?? 0)) status = 'at-risk';
      else status = 'infeasible';
      const int = (x: number | null) => (x === null ? null : Math.round(x));
      return {
        vehicleId: v.id,
        name: v.name ?? null,
        evseId: evse?.id ?? null,
        departureAt: n ? iso(n.departureAt) : null,
        energyNeededWh: int(need),
        deliveredWh: int(delivered),
        remainingWh: int(remaining),
        setpointW: int(setpointW),
        maxW: int(maxW),
        projectedWh: n ? int(projected) : null,
        status,
        reason: fleetReason,
      };
    });
  return zodPlugin((r) => {
    listing(r, '/api/v1/fleet/plan', {
      tag: 'vehicles',
      summary: 'Every vehicle with its departure, energy needed vs delivered, and whether it will make it',
      response: PlanView,
      list: () => plan(ctx.clock.now(), ctx.state.snapshot()),
    });
  });
}
