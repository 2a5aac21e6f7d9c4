import { decide as batteryDecide } from '../../policies/battery.js';
import { decide as fleetDecide, type VehicleNeed } from '../../policies/fleet-deadlines.js';
import { decide as peakDecide } from '../../policies/peak-shaving.js';
import { decide as solarDecide } from '../../policies/solar.js';
import type { GatewayConfig } from '../config/schema.js';
import { type BoundPolicy, bindPolicy } from '../model/policy.js';

/** Run-time inputs of the optional policies (set through the API, MQTT, tariffs). */
export interface PolicyInputs {
  /** Live vehicle needs (API `PUT /api/v1/vehicles/<id>/needs`), merged over the configured ones. */
  readonly needs?: (now: number) => readonly VehicleNeed[];
  /** Current energy price, EUR/kWh. */
  readonly priceEurPerKwh?: (now: number) => number | undefined;
}

/** Configured needs of `fleet.vehicles` as policy input. */
export function configuredNeeds(config: GatewayConfig): VehicleNeed[] {
  const out: VehicleNeed[] = [];
  for (const v of config.fleet.vehicles) {
    if (v.energyKwh === undefined || v.departure === undefined) continue;
    out.push({
      vehicleId: v.id,
      ...(v.evseId ? { evseId: v.evseId } : {}),
      ...(v.idTag ? { idTag: v.idTag } : {}),
      departureTime: v.departure,
      energyWh: v.energyKwh * 1000,
      ...(v.maxCurrentA !== undefined ? { maxCurrentA: v.maxCurrentA } : {}),
      ...(v.phases !== undefined ? { phases: v.phases } : {}),
    });
  }
  return out;
}

/**
 * The optional policies enabled in the config, bound to their tier:
 * peak shaving (contract), fleet deadlines (fleet), solar and battery
 * (optimisation). Failsafe and load management come from `corePolicies`.
 */
export function controlPolicies(config: GatewayConfig, inputs: PolicyInputs = {}): BoundPolicy[] {
  const p = config.control.policies;
  const stale = config.site.staleAfterMs;
  const out: BoundPolicy[] = [];
  if (p.peakShaving.enabled) {
    out.push(
      bindPolicy('peak-shaving', 'contract', peakDecide, {
        targetW: p.peakShaving.targetW ?? config.site.limitW,
        marginW: p.peakShaving.marginW,
        ...(p.battery.enabled
          ? {
              batteryId: p.battery.id,
              batteryMaxDischargeW: p.battery.maxDischargeW,
              batterySocFloorPct: p.battery.socFloorPct,
            }
          : {}),
        staleAfterMs: stale,
      }),
    );
  }
  if (config.fleet.deadlines.enabled) {
    const fromConfig = configuredNeeds(config);
    out.push(
      bindPolicy('fleet-deadlines', 'fleet', fleetDecide, (now: number) => {
        const live = inputs.needs?.(now) ?? [];
        const liveIds = new Set(live.map((n) => n.vehicleId));
        return {
          needs: [...live, ...fromConfig.filter((n) => !liveIds.has(n.vehicleId))],
          circuits: config.site.circuits,
          ...(config.site.fuseA !== undefined ? { fuseA: config.site.fuseA } : {}),
          ...(config.fleet.deadlines.siteCapacityW !== undefined
            ? { siteCapacityW: config.fleet.deadlines.siteCapacityW }
            : {}),
          safetyFactor: config.fleet.deadlines.safetyFactor,
        };
      }),
    );
  }
  if (p.solar.enabled) {
    out.push(
      bindPolicy('solar', 'optimisation', solarDecide, {
        mode: p.solar.mode,
        priority: p.solar.priority,
        ...(p.battery.enabled
          ? { batteryMaxChargeW: p.battery.maxChargeW, batterySocCeilingPct: p.battery.socCeilingPct }
          : {}),
        startMarginW: p.solar.startMarginW,
        stopToleranceW: p.solar.stopToleranceW,
        staleAfterMs: stale,
      }),
    );
  }
  if (p.battery.enabled) {
    const b = p.battery;
    out.push(
      bindPolicy('battery', 'optimisation', batteryDecide, (now: number) => {
        const price = inputs.priceEurPerKwh?.(now);
        return {
          batteryId: b.id,
          maxChargeW: b.maxChargeW,
          maxDischargeW: b.maxDischargeW,
          socFloorPct: b.socFloorPct,
          socCeilingPct: b.socCeilingPct,
          siteLimitW: config.site.limitW,
          marginW: p.loadManagement.marginW,
          dischargeForEvs: b.dischargeForEvs,
          evFirst: p.solar.priority === 'ev-first',
          ...(price !== undefined ? { priceEurPerKwh: price } : {}),
          ...(b.cheapBelowEurPerKwh !== undefined ? { cheapBelowEurPerKwh: b.cheapBelowEurPerKwh } : {}),
          staleAfterMs: stale,
        };
      }),
    );
  }
  return out;
}
