import type { Decision, Limit, PowerRequest, Reason } from '../src/model/decision.js';
import { SESSION_STATUSES, type SiteSnapshot } from '../src/model/site.js';

export interface PriceSlot {
  readonly start: number;
  readonly end: number;
  /** Import price per kWh, all components included. */
  readonly importPerKwh: number;
  /** Grid carbon intensity, g CO2 per kWh, when known. */
  readonly co2GPerKwh?: number;
}

export interface PlannedVehicle {
  readonly evseId: string;
  /** Epoch ms. */
  readonly departureAt: number;
  /** Energy still to charge by departure, Wh. */
  readonly neededWh: number;
  /** Highest power this vehicle takes, W (the charger's maximum when omitted). */
  readonly maxW?: number;
}

export interface TariffPlanningInput {
  /** Prices from now to at least the last departure (the tariff's `series`). */
  readonly prices: readonly PriceSlot[];
  readonly vehicles: readonly PlannedVehicle[];
  /** Power the vehicles may share in each slot (contract / grid budget), W. */
  readonly chargingBudgetW: number;
  readonly currency: string;
  /** What a kg of CO2 is worth when choosing hours (0: price only), currency per kg. */
  readonly co2PricePerKg?: number;
}

export interface VehiclePlan {
  readonly evseId: string;
  /** Planned power per slot start, W. */
  readonly slots: ReadonlyArray<{ start: number; end: number; powerW: number; price: number }>;
  readonly plannedWh: number;
  readonly feasible: boolean;
}

/**
 * Plan all vehicles together into the cheapest slots before their
 * departures, against the shared budget per slot (two cars must not both
 * pick the same cheap hour on one connection): earliest departure first,
 * each takes its cheapest remaining slots. Pure: same prices, same plan.
 */
export function plan(input: TariffPlanningInput, now: number): VehiclePlan[] {
  const w = input.co2PricePerKg ?? 0;
  // Cheap and green: the effective cost adds the carbon intensity at the configured price per kg.
  const slots = input.prices
    .filter((s) => s.end > now)
    .map((s) => ({ ...s, cost: s.importPerKwh + (w * (s.co2GPerKwh ?? 0)) / 1000, left: input.chargingBudgetW }));
  const order = [...input.vehicles].sort((a, b) => a.departureAt - b.departureAt || a.evseId.localeCompare(b.evseId));
  const out: VehiclePlan[] = [];
  for (const v of order) {
    const maxW = v.maxW ?? Number.POSITIVE_INFINITY;
    const usable = slots.filter((s) => s.start < v.departureAt).sort((a, b) => a.cost - b.cost || a.start - b.start);
    let need = v.neededWh;
    const mine: Array<{ start: number; end: number; powerW: number; price: number }> = [];
    for (const s of usable) {
      if (need <= 0) break;
      const hours = (Math.min(s.end, v.departureAt) - Math.max(s.start, now)) / 3_600_000;
      if (hours <= 0) continue;
      const powerW = Math.min(maxW, s.left, need / hours);
      if (powerW <= 0) continue;
      s.left -= powerW;
      need -= powerW * hours;
      mine.push({ start: s.start, end: s.end, powerW, price: s.importPerKwh });
    }
    mine.sort((a, b) => a.start - b.start);
    out.push({ evseId: v.evseId, slots: mine, plannedWh: v.neededWh - Math.max(0, need), feasible: need <= 1 });
  }
  return out;
}

/**
 * Optimisation tier: a vehicle with a plan charges at its planned power in
 * the current slot and waits in the expensive ones (a limit of this tier
 * never holds back a fleet deadline request of a higher tier).
 */
export function decide(snapshot: SiteSnapshot, input: TariffPlanningInput, now: number): Decision {
  const plugged = new Map(snapshot.evses.filter((e) => SESSION_STATUSES.has(e.status)).map((e) => [e.id, e]));
  const vehicles = input.vehicles
    .filter((v) => plugged.has(v.evseId) && v.neededWh > 0)
    .map((v) => {
      const e = plugged.get(v.evseId);
      const deviceMaxW = e ? e.maxCurrentA * (e.vehiclePhases ?? e.phases) * e.voltageV : Number.POSITIVE_INFINITY;
      return { ...v, maxW: Math.min(v.maxW ?? deviceMaxW, deviceMaxW) };
    });
  const plans = plan({ ...input, vehicles }, now);
  const limits: Limit[] = [];
  const requests: PowerRequest[] = [];
  const reason = (text: string): Reason => ({ policy: 'tariff-planning', tier: 'optimisation', text });
  for (const p of plans) {
    const current = p.slots.find((s) => s.start <= now && now < s.end);
    const nextSlot = p.slots.find((s) => s.start > now);
    const price = (v: number) => `${v.toFixed(3)} ${input.currency}/kWh`;
    if (!p.feasible) {
      // Not enough time at any price: the fleet tier's deadline logic decides; we do not hold it back.
      continue;
    }
    if (current) {
      requests.push({
        target: `evse:${p.evseId}`,
        powerW: Math.round(current.powerW),
        reason: reason(`cheap slot at ${price(current.price)}: ${(current.powerW / 1000).toFixed(1)} kW planned`),
      });
      limits.push({
        scope: `evse:${p.evseId}`,
        maxImportW: Math.ceil(current.powerW),
        reason: reason(`planned ${(current.powerW / 1000).toFixed(1)} kW now at ${price(current.price)}`),
      });
    } else {
      limits.push({
        scope: `evse:${p.evseId}`,
        maxImportW: 0,
        reason: reason(
          nextSlot
            ? `waiting for cheaper energy from ${new Date(nextSlot.start).toISOString().slice(11, 16)}Z at ${price(nextSlot.price)}`
            : 'energy need covered by the plan',
        ),
      });
    }
  }
  return { limits, requests };
}
