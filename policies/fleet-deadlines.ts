import type { Decision, Limit, PowerRequest } from '../src/model/decision.js';
import { type EvseState, SESSION_STATUSES, type SiteSnapshot } from '../src/model/site.js';

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
export function planFleet(snapshot: SiteSnapshot, config: FleetDeadlinesConfig, now: number): VehiclePlan[] {
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
    const phases = e.phases === 1 ? 1 : (need.phases ?? e.vehiclePhases ?? measuredPhases(e, now) ?? e.phases);
    const maxA = Math.min(e.maxCurrentA, need.maxCurrentA ?? Number.POSITIVE_INFINITY);
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

/**
 * Fleet tier: a request per vehicle for its required average power (times
 * the safety factor), least laxity first so the allocator serves the most
 * urgent first; a vehicle's own current limit as a cap on its EVSE.
 */
export function decide(snapshot: SiteSnapshot, config: FleetDeadlinesConfig, now: number): Decision {
  const plans = planFleet(snapshot, config, now);
  const requests: PowerRequest[] = [];
  const limits: Limit[] = [];
  const needOf = new Map(config.needs.map((n) => [n.vehicleId, n]));
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
    if (p.remainingWh <= 0) continue;
    const by = hhmm(p.departureAt);
    const powerW = p.feasible ? Math.min(p.maxW, p.requiredW * config.safetyFactor) : p.maxW;
    const text = p.feasible
      ? `vehicle ${p.vehicleId}: ${(p.remainingWh / 1000).toFixed(1)} kWh by ${by} UTC needs ${(p.requiredW / 1000).toFixed(1)} kW (laxity ${Math.round(p.laxityS / 60)} min)`
      : `vehicle ${p.vehicleId}: infeasible, ${(p.shortfallWh / 1000).toFixed(1)} kWh short by ${by} UTC${p.bottleneck ? ` (circuit ${p.bottleneck})` : ''}; charging at full power`;
    requests.push({ target: `evse:${p.evseId}`, powerW, reason: { policy: 'fleet-deadlines', tier: 'fleet', text } });
  }
  return { limits, requests };
}
