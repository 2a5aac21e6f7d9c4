import type { Decision, Limit, PowerRequest } from '../src/model/decision.js';
import type { DecideFn } from '../src/model/policy.js';
import { isFresh } from '../src/model/reading.js';
import { type EvseState, SESSION_STATUSES, type SiteSnapshot } from '../src/model/site.js';
import { type ChargingCapacity, capacityAt, type ImportWindow, type PlanNow, planNow } from './fleet-plan.js';
import { VehicleMaxMemory } from './vehicle-max.js';

export type { ImportWindow } from './fleet-plan.js';

/** What a vehicle needs by when (from config, `PUT /api/v1/vehicles/<id>/needs`, MQTT or OCPP 2.1). */
export interface VehicleNeed {
  readonly vehicleId: string;
  /** EVSE the vehicle is plugged into, when known. */
  readonly evseId?: string;
  /** Otherwise matched by the session's id tag. */
  readonly idTag?: string;
  /** Departure, epoch ms. */
  readonly departureAt?: number;
  /** Daily departure `HH:MM` (UTC), the first one after the session started. */
  readonly departureTime?: string;
  /** Energy needed in this session, Wh. */
  readonly energyWh: number;
  /** The vehicle's own current limit, A. */
  readonly maxCurrentA?: number;
  readonly phases?: 1 | 3;
}

export interface FleetCircuit {
  readonly id: string;
  readonly parent: string;
  readonly maxCurrentA: number;
  readonly maxPowerW?: number;
}

export interface FleetDeadlinesConfig {
  readonly needs: readonly VehicleNeed[];
  /** The circuit tree, for joint planning of all vehicles against every node's capacity. */
  readonly circuits?: readonly FleetCircuit[];
  readonly fuseA?: number;
  /** Power expected to be available for charging at the site connection, W. */
  readonly siteCapacityW?: number;
  /** Requested power = required average power x this factor (reserve for pauses and ramps). */
  readonly safetyFactor: number;
  /** Contracted import of the site, W: with it, the plan looks ahead at the power left for charging. */
  readonly siteLimitW?: number;
  /** Import limits known in advance (DR events): the plan charges ahead of them. */
  readonly importLimits?: readonly ImportWindow[];
  /** Margin the load management keeps below every limit, W. */
  readonly marginW?: number;
  /** Readings older than this are not used for the site's other load, ms (default 10 s). */
  readonly staleAfterMs?: number;
  /**
   * Below the deadlines (optimisation tier), ask full power for every vehicle that still needs
   * energy, so room left now goes to them rather than to vehicles already done.
   */
  readonly chargeAhead?: boolean;
}

export interface VehiclePlan {
  readonly vehicleId: string;
  readonly evseId: string;
  readonly departureAt: number;
  readonly remainingWh: number;
  /** Average power needed from now to departure, W. */
  readonly requiredW: number;
  /** Highest power the vehicle can take here, W. */
  readonly maxW: number;
  /** The vehicle's own per-phase maximum as learnt from what it draws, A (when below the charger's and its need's). */
  readonly learntMaxA?: number;
  /** Time to spare if charged at full power from now, s (negative: late). */
  readonly laxityS: number;
  readonly feasible: boolean;
  /** Energy that cannot be delivered by departure, Wh (alone or because the circuit is shared). */
  readonly shortfallWh: number;
  /** The circuit that makes it infeasible, when it is a shared one. */
  readonly bottleneck?: string;
}

function departureOf(need: VehicleNeed, e: EvseState, now: number): number | undefined {
  if (need.departureAt !== undefined) return need.departureAt;
  if (!need.departureTime) return undefined;
  const m = /^(\d{1,2}):(\d{2})$/.exec(need.departureTime);
  if (!m) return undefined;
  const from = e.sessionStart ?? now;
  const d = new Date(from);
  const at = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), Number(m[1]), Number(m[2]));
  return at > from ? at : at + 86_400_000;
}

/** A vehicle drawing on one phase only is a 1-phase vehicle, whatever the charger could do. */
function measuredPhases(e: EvseState, now: number): 1 | 3 | undefined {
  const r = e.currentsA;
  if (r?.quality !== 'good' || now - r.ts > 60_000) return undefined;
  const max = Math.max(...r.value);
  if (max < 2) return undefined;
  return r.value.filter((x) => x > 0.5 * max).length === 1 ? 1 : 3;
}

/**
 * Plan every vehicle together: least laxity first, and for every circuit
 * node an earliest-deadline check of the energy all vehicles below it need
 * by each departure against what the node can deliver until then. A
 * shortfall is reported as soon as it is certain, in kWh, not at departure.
 */
export function planFleet(
  snapshot: SiteSnapshot,
  config: FleetDeadlinesConfig,
  now: number,
  learnt?: VehicleMaxMemory,
): VehiclePlan[] {
  const byEvse = new Map<string, VehicleNeed>();
  const byTag = new Map<string, VehicleNeed>();
  for (const n of config.needs) {
    if (n.evseId) byEvse.set(n.evseId, n);
    if (n.idTag) byTag.set(n.idTag, n);
  }
  const plans: Array<VehiclePlan & { path: string[]; e: EvseState }> = [];
  const parents = new Map((config.circuits ?? []).map((c) => [c.id, c.parent]));
  const pathOf = (id: string) => {
    const p: string[] = [];
    let cur: string | undefined = parents.has(id) ? id : 'site';
    for (let i = 0; cur !== undefined && i < 32; i++) {
      p.push(cur);
      cur = cur === 'site' ? undefined : parents.get(cur);
    }
    return p;
  };
  for (const e of snapshot.evses) {
    if (!SESSION_STATUSES.has(e.status)) continue;
    const need = byEvse.get(e.id) ?? (e.idTag ? byTag.get(e.idTag) : undefined);
    if (!need) continue;
    const departureAt = departureOf(need, e, now);
    if (departureAt === undefined) continue;
    // The phases its readings show it draws on first (the gateway's own evidence), then those it was declared with.
    const phases = e.phases === 1 ? 1 : (e.vehiclePhases ?? need.phases ?? measuredPhases(e, now) ?? e.phases);
    // The least of the charger's maximum, the vehicle's own declared one and what it was seen to draw at most.
    const declaredA = Math.min(e.maxCurrentA, need.maxCurrentA ?? Number.POSITIVE_INFINITY);
    const seenA = learnt?.maxA(e);
    const maxA = seenA !== undefined && seenA < declaredA ? seenA : declaredA;
    const maxW = maxA * phases * e.voltageV;
    const remainingWh = Math.max(0, need.energyWh - (e.sessionEnergyWh ?? 0));
    const leftS = Math.max(0, (departureAt - now) / 1000);
    const requiredW = remainingWh <= 0 ? 0 : leftS > 0 ? (remainingWh * 3600) / leftS : Number.POSITIVE_INFINITY;
    const laxityS = leftS - (maxW > 0 ? (remainingWh * 3600) / maxW : Number.POSITIVE_INFINITY);
    const shortfallWh = Math.max(0, remainingWh - (maxW * leftS) / 3600);
    plans.push({
      vehicleId: need.vehicleId,
      evseId: e.id,
      departureAt,
      remainingWh,
      requiredW,
      maxW,
      ...(maxA < declaredA ? { learntMaxA: maxA } : {}),
      laxityS,
      feasible: shortfallWh <= 0,
      shortfallWh,
      path: pathOf(e.circuitId),
      e,
    });
  }
  // Joint check per node: cumulative energy by each deadline against node capacity x time.
  const nodeCapW = new Map<string, number>();
  const v = snapshot.evses[0]?.voltageV ?? 230;
  nodeCapW.set(
    'site',
    Math.min(
      config.fuseA ? config.fuseA * 3 * v : Number.POSITIVE_INFINITY,
      config.siteCapacityW ?? Number.POSITIVE_INFINITY,
    ),
  );
  for (const c of config.circuits ?? [])
    nodeCapW.set(c.id, Math.min(c.maxCurrentA * 3 * v, c.maxPowerW ?? Number.POSITIVE_INFINITY));
  const extra = new Map<string, { wh: number; node: string }>();
  const byNode = new Map<string, Array<(typeof plans)[number]>>();
  for (const p of plans) {
    for (const n of p.path) {
      const list = byNode.get(n);
      if (list) list.push(p);
      else byNode.set(n, [p]);
    }
  }
  for (const [node, capW] of nodeCapW) {
    if (!Number.isFinite(capW)) continue;
    const below = (byNode.get(node) ?? []).sort((a, b) => a.departureAt - b.departureAt);
    let cum = 0;
    let worst = 0;
    for (const p of below) {
      cum += p.remainingWh - p.shortfallWh;
      const excess = cum - (capW * Math.max(0, p.departureAt - now)) / 3_600_000;
      if (excess > worst + 1) {
        const prev = extra.get(p.evseId);
        if (!prev || prev.wh < excess - worst) extra.set(p.evseId, { wh: excess - worst, node });
        worst = excess;
      }
    }
  }
  return plans
    .map((p): VehiclePlan => {
      const x = extra.get(p.evseId);
      const plan: VehiclePlan = {
        vehicleId: p.vehicleId,
        evseId: p.evseId,
        departureAt: p.departureAt,
        remainingWh: p.remainingWh,
        requiredW: p.requiredW,
        maxW: p.maxW,
        ...(p.learntMaxA !== undefined ? { learntMaxA: p.learntMaxA } : {}),
        laxityS: p.laxityS,
        feasible: x ? false : p.feasible,
        shortfallWh: p.shortfallWh + (x?.wh ?? 0),
      };
      return x ? { ...plan, bottleneck: x.node } : plan;
    })
    .sort((a, b) => a.laxityS - b.laxityS || a.departureAt - b.departureAt);
}

/** `HH:MM` of a time, UTC; cached because every round explains every vehicle. */
const HHMM = new Map<number, string>();
function hhmm(ts: number): string {
  let s = HHMM.get(ts);
  if (s === undefined) {
    if (HHMM.size > 10_000) HHMM.clear();
    s = new Date(ts).toISOString().slice(11, 16);
    HHMM.set(ts, s);
  }
  return s;
}

/** Power for charging from now on: the contract, fuse and known import limits, less the other load and margin. */
function capacityOf(snapshot: SiteSnapshot, config: FleetDeadlinesConfig, now: number): ChargingCapacity | undefined {
  const windows = (config.importLimits ?? []).filter((w) => w.end > now);
  const v = snapshot.evses[0]?.voltageV ?? 230;
  const staleMs = config.staleAfterMs ?? 10_000;
  const grid = snapshot.grid.powerW;
  let otherW = 0;
  if (grid && isFresh(grid, now, staleMs) && !snapshot.stale.includes('grid.powerW')) {
    let evseW = 0;
    for (const e of snapshot.evses) if (e.powerW && isFresh(e.powerW, now, staleMs)) evseW += e.powerW.value;
    otherW = Math.max(0, grid.value - evseW);
  }
  const reservedW = otherW + (config.marginW ?? 0);
  const ceilingW = Math.min(
    config.siteLimitW ?? Number.POSITIVE_INFINITY,
    config.fuseA !== undefined ? config.fuseA * 3 * v : Number.POSITIVE_INFINITY,
    config.siteCapacityW !== undefined ? config.siteCapacityW + reservedW : Number.POSITIVE_INFINITY,
  );
  if (!Number.isFinite(ceilingW) && windows.length === 0) return undefined;
  return { ceilingW, windows, reservedW };
}

/**
 * The vehicles still short of their energy can take all the power there is for charging now (with a
 * tenth to spare): a vehicle already done would only take its minimum current from them, so it waits.
 * (Measured on dr-day: pausing only when the plan itself shows pressure left 7 of 16 vans short, as
 * the vehicles follow a limit late and the budget is used at well below the plan's derating.)
 */
function shortCanFill(plans: readonly VehiclePlan[], capacity: ChargingCapacity, now: number): boolean {
  let shortW = 0;
  for (const p of plans) if (p.remainingWh > 0) shortW += p.maxW;
  return shortW >= 0.9 * capacityAt(capacity, now);
}

/**
 * Fleet tier: a request per vehicle for its required average power (times
 * the safety factor), or more where the power to come (contract, fuse, known
 * import limits) cannot take the rest in time (see `planNow`); the most
 * pressed vehicle first (the largest share of its maximum it must draw now),
 * then least laxity, so the allocator serves the most urgent first; a
 * vehicle's own current limit as a cap on its EVSE. With `chargeAhead`, an
 * optimisation-tier request for full power for every vehicle still short.
 */
export function decide(
  snapshot: SiteSnapshot,
  config: FleetDeadlinesConfig,
  now: number,
  learnt?: VehicleMaxMemory,
): Decision {
  let plans = planFleet(snapshot, config, now, learnt);
  const capacity = capacityOf(snapshot, config, now);
  const ahead: Map<string, PlanNow> = capacity
    ? planNow(
        plans.map((p) => ({ id: p.evseId, departureAt: p.departureAt, remainingWh: p.remainingWh, maxW: p.maxW })),
        capacity,
        now,
        1 / Math.max(1, config.safetyFactor),
      )
    : new Map();
  if (ahead.size > 0) {
    const press = (p: VehiclePlan) => (p.maxW > 0 ? (ahead.get(p.evseId)?.mustW ?? 0) / p.maxW : 0);
    plans = [...plans].sort((a, b) => press(b) - press(a) || a.laxityS - b.laxityS || a.departureAt - b.departureAt);
  }
  const requests: PowerRequest[] = [];
  const extra: PowerRequest[] = [];
  const limits: Limit[] = [];
  const needOf = new Map(config.needs.map((n) => [n.vehicleId, n]));
  const done: VehiclePlan[] = [];
  for (const p of plans) {
    const need = needOf.get(p.vehicleId);
    if (need?.maxCurrentA !== undefined) {
      limits.push({
        scope: `evse:${p.evseId}`,
        maxCurrentA: need.maxCurrentA,
        reason: {
          policy: 'fleet-deadlines',
          tier: 'safety',
          text: `vehicle ${p.vehicleId} takes at most ${need.maxCurrentA} A`,
        },
      });
    }
    if (p.remainingWh <= 0) {
      done.push(p);
      continue;
    }
    const by = hhmm(p.departureAt);
    const plain = p.feasible ? Math.min(p.maxW, p.requiredW * config.safetyFactor) : p.maxW;
    const must = ahead.get(p.evseId);
    const powerW = Math.max(plain, must?.mustW ?? 0);
    const own = p.learntMaxA !== undefined ? `, draws at most ${p.learntMaxA.toFixed(1)} A` : '';
    let text = p.feasible
      ? `vehicle ${p.vehicleId}: ${(p.remainingWh / 1000).toFixed(1)} kWh by ${by} UTC needs ${(p.requiredW / 1000).toFixed(1)} kW (laxity ${Math.round(p.laxityS / 60)} min${own})`
      : `vehicle ${p.vehicleId}: infeasible, ${(p.shortfallWh / 1000).toFixed(1)} kWh short by ${by} UTC${p.bottleneck ? ` (circuit ${p.bottleneck})` : ''}; charging at full power`;
    if (p.feasible && must && must.mustW > plain) {
      text = `vehicle ${p.vehicleId}: ${(p.remainingWh / 1000).toFixed(1)} kWh by ${by} UTC, ${(must.mustWh / 1000).toFixed(1)} kWh of it before ${hhmm(must.untilMs)} UTC: the power left for charging after it cannot take more; needs ${(must.mustW / 1000).toFixed(1)} kW${must.late ? ' (behind plan: full power)' : ''}`;
    }
    requests.push({ target: `evse:${p.evseId}`, powerW, reason: { policy: 'fleet-deadlines', tier: 'fleet', text } });
    if (config.chargeAhead && powerW < p.maxW) {
      extra.push({
        target: `evse:${p.evseId}`,
        powerW: p.maxW,
        reason: {
          policy: 'fleet-deadlines',
          tier: 'optimisation',
          text: `vehicle ${p.vehicleId}: ${(p.remainingWh / 1000).toFixed(1)} kWh still needed by ${by} UTC; charging ahead while there is room`,
        },
      });
    }
  }
  if (config.chargeAhead && capacity && done.length > 0 && shortCanFill(plans, capacity, now)) {
    for (const p of done) {
      limits.push({
        scope: `evse:${p.evseId}`,
        maxImportW: 0,
        reason: {
          policy: 'fleet-deadlines',
          tier: 'optimisation',
          text: `vehicle ${p.vehicleId} has its energy for ${hhmm(p.departureAt)} UTC: waits while the vehicles still short can take the ${(capacityAt(capacity, now) / 1000).toFixed(1)} kW there is`,
        },
      });
    }
  }
  return { limits, requests: [...requests, ...extra] };
}

/**
 * The fleet-deadline policy with its own memory of what each session's vehicle draws at most (one
 * per gateway): it learns from every round's snapshot, then plans with what it learnt.
 */
export function fleetDeadlines(): DecideFn<FleetDeadlinesConfig> {
  const memory = new VehicleMaxMemory();
  return (snapshot, config, now) => {
    memory.observe(snapshot, now);
    return decide(snapshot, config, now, memory);
  };
}
