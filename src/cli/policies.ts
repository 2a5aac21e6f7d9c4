import { decide as batteryDecide } from '../../policies/battery.js';
import { decide as failsafeDecide } from '../../policies/failsafe.js';
import { fleetDeadlines, type ImportWindow, type VehicleNeed } from '../../policies/fleet-deadlines.js';
import { decide as gridSignalsDecide, EMPTY_GRID_INPUT, withLimitsAhead } from '../../policies/grid-signals.js';
import { decide as loadManagementDecide } from '../../policies/load-management.js';
import { decide as operatorDecide } from '../../policies/operator-commands.js';
import { decide as peakDecide } from '../../policies/peak-shaving.js';
import { decide as siteOverrideDecide, type SiteOverrideInput } from '../../policies/site-override.js';
import { decide as solarDecide } from '../../policies/solar.js';
import {
  type PlannedVehicle,
  decide as tariffPlanningDecide,
  type TariffPlanningInput,
} from '../../policies/tariff-planning.js';
import { decide as vppDecide, type VppInput, type VppVehicle } from '../../policies/vpp-dispatch.js';
import type { GatewayConfig } from '../config/schema.js';
import type { GridService } from '../grid/index.js';
import type { Tier } from '../model/decision.js';
import type { OperatorCommandsInput } from '../model/operator-commands.js';
import { type BoundPolicy, bindPolicy } from '../model/policy.js';

/*
 * The policy registry: the one place where every policy of `policies/` is
 * bound to its tier and its inputs. Tiers at a glance:
 *
 *   safety        failsafe
 *   grid          grid-signals, vpp-dispatch (or optimisation for market dispatch)
 *   contract      load-management, peak-shaving, operator, site-override
 *   fleet         fleet-deadlines
 *   optimisation  solar, battery, tariff-planning
 *
 * The order of the lists below is the order the loop calls them in.
 */

/**
 * Run-time inputs of the policies (set through the API, MQTT, OCPP, tariffs
 * and grid signals). Each is a getter read once per round; a policy whose
 * input is not wired is not bound.
 */
export interface PolicyInputs {
  /** Live vehicle needs (API `PUT /api/v1/vehicles/<id>/needs`), merged over the configured ones. */
  readonly needs?: (now: number) => readonly VehicleNeed[];
  /** Current energy price, EUR/kWh. */
  readonly priceEurPerKwh?: (now: number) => number | undefined;
  /** Manual operator commands (MQTT `/set`). */
  readonly operator?: (now: number) => OperatorCommandsInput;
  /** The operator's temporary site limit (API), if one is active. */
  readonly siteOverride?: (now: number) => SiteOverrideInput['override'];
  /** Grid import limits active or announced (DR events), for the fleet plan to charge ahead of them. */
  readonly importLimits?: (now: number) => readonly ImportWindow[];
}

export interface GridPolicyOptions {
  /** Bidirectional vehicles and what they allow (from the fleet area); none when omitted. */
  readonly vehicles?: (now: number) => readonly VppVehicle[];
  /** Tier of VPP requests: `grid` (DSO/utility set-point, default) or `optimisation` (market). */
  readonly vppTier?: Tier;
  /** Vehicles with a departure and an energy need (from the fleet area); enables tariff planning. */
  readonly plannedVehicles?: (now: number) => readonly PlannedVehicle[];
  /** Planning slot length, ms (default 15 min). */
  readonly planningSlotMs?: number;
  /**
   * An import limit applies this long before its start, ms (default 30 s: the slowest AC vehicles
   * follow a new limit up to 30 s late); 0: at its start.
   */
  readonly limitLeadMs?: number;
}

/** The always-on policies every core runs: failsafe (safety) and load management (contract). */
export function corePolicies(config: GatewayConfig): BoundPolicy[] {
  const out: BoundPolicy[] = [
    bindPolicy('failsafe', 'safety', failsafeDecide, { failsafeLimitW: config.site.failsafeLimitW }),
  ];
  const lm = config.control.policies.loadManagement;
  if (lm.enabled) {
    out.push(
      bindPolicy('load-management', 'contract', loadManagementDecide, {
        limitW: config.site.limitW,
        marginW: lm.marginW,
        measuredMargin: lm.measuredMargin,
        staleAfterMs: config.site.staleAfterMs,
        ...(config.site.fuseA !== undefined ? { fuseA: config.site.fuseA } : {}),
        gridStaleAfterMs: config.site.gridStaleAfterMs,
      }),
    );
  }
  return out;
}

/**
 * Every policy of a full gateway beyond the always-on ones (`createCore`
 * adds those): control, operator and grid policies, in that order.
 */
export function gatewayPolicies(
  config: GatewayConfig,
  inputs: PolicyInputs,
  grid: () => GridService | undefined,
  gridOptions: GridPolicyOptions = {},
): BoundPolicy[] {
  return [
    ...controlPolicies(config, inputs),
    ...operatorPolicies(config, inputs),
    ...gridPolicies(config, grid, gridOptions),
  ];
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
 * The optional control policies enabled in the config: peak shaving
 * (contract), fleet deadlines (fleet), solar and battery (optimisation).
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
      bindPolicy('fleet-deadlines', 'fleet', fleetDeadlines(), (now: number) => {
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
          siteLimitW: config.site.limitW,
          marginW: p.loadManagement.marginW,
          staleAfterMs: stale,
          importLimits: inputs.importLimits?.(now) ?? [],
          chargeAhead: config.fleet.deadlines.chargeAhead,
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

/** Operator commands and the operator's site override (contract tier), when their inputs are wired. */
export function operatorPolicies(config: GatewayConfig, inputs: PolicyInputs): BoundPolicy[] {
  const out: BoundPolicy[] = [];
  const operator = inputs.operator;
  if (operator) out.push(bindPolicy('operator', 'contract', operatorDecide, operator));
  const override = inputs.siteOverride;
  if (override) {
    out.push(
      bindPolicy('site-override', 'contract', siteOverrideDecide, (now: number): SiteOverrideInput => {
        const o = override(now);
        return {
          ...(o ? { override: o } : {}),
          marginW: config.control.policies.loadManagement.marginW,
          staleAfterMs: config.site.staleAfterMs,
          gridStaleAfterMs: config.site.gridStaleAfterMs,
        };
      }),
    );
  }
  return out;
}

/**
 * The grid-tier policies, bound to a service that may be created after the
 * core (the service needs the core's metrics registry, the core needs the
 * policies): pass a getter.
 */
export function gridPolicies(
  config: GatewayConfig,
  service: () => GridService | undefined,
  opts: GridPolicyOptions = {},
): BoundPolicy[] {
  const out = [
    bindPolicy('grid-signals', 'grid', gridSignalsDecide, (now: number) => {
      const store = service()?.store;
      if (!store) return EMPTY_GRID_INPUT;
      const leadMs = opts.limitLeadMs ?? 30_000;
      return leadMs > 0 ? withLimitsAhead(store.input(now), store.input(now + leadMs), leadMs) : store.input(now);
    }),
  ];
  const vpp = config.grid.vpp;
  if (vpp.enabled) {
    const tier = opts.vppTier ?? 'grid';
    out.push(
      bindPolicy('vpp-dispatch', tier, vppDecide, (now: number): VppInput => {
        const store = service()?.store;
        const gridInput = store?.input(now);
        const sp = gridInput?.setpoint;
        const signal = sp ? store?.active(now, 'setpoint').find((s) => s.eventId === sp.eventId) : undefined;
        return {
          ...(sp ? { setpoint: sp } : {}),
          ...(signal ? { setpointEnd: signal.end } : {}),
          ...(vpp.battery ? { battery: vpp.battery } : {}),
          vehicles: opts.vehicles?.(now) ?? [],
          unresponsive: service()?.v2g.unresponsive(now) ?? [],
          ...(gridInput?.otherLoadW !== undefined ? { otherLoadW: gridInput.otherLoadW } : {}),
          v2gMinSocPct: vpp.v2gMinSocPct,
          rampWPerS: vpp.rampWPerS,
          stepS: config.control.intervalMs / 1000,
          staleAfterMs: config.site.staleAfterMs,
          tier,
        };
      }),
    );
  }
  const planned = opts.plannedVehicles;
  if (planned && config.grid.tariff.components.length > 0) {
    const slotMs = opts.planningSlotMs ?? 900_000;
    out.push(
      bindPolicy('tariff-planning', 'optimisation', tariffPlanningDecide, (now: number): TariffPlanningInput => {
        const vehicles = planned(now);
        return {
          prices: planningPrices(service(), now, vehicles, slotMs),
          vehicles,
          chargingBudgetW: Math.max(0, config.site.limitW - config.grid.marginW),
          currency: config.grid.tariff.currency,
          co2PricePerKg: config.grid.tariff.co2PricePerKg,
        };
      }),
    );
  }
  return out;
}

/** Price (and CO2, where known) per planning slot from now to the last departure, at most 48 h. */
function planningPrices(
  svc: GridService | undefined,
  now: number,
  vehicles: readonly PlannedVehicle[],
  slotMs: number,
): TariffPlanningInput['prices'] {
  if (!svc) return [];
  const horizon = Math.max(now + slotMs, ...vehicles.map((v) => v.departureAt));
  const from = Math.floor(now / slotMs) * slotMs;
  const ghg = svc.store.ghg();
  const co2At = (t: number) => {
    for (let i = ghg.length - 1; i >= 0; i--) {
      const g = ghg[i];
      if (g && g.start <= t && t < g.end) return g.value;
    }
    return undefined;
  };
  return svc.tariff.series(from, Math.min(horizon, now + 48 * 3_600_000), slotMs).map((p) => {
    const co2 = co2At(p.ts + slotMs / 2);
    return {
      start: p.ts,
      end: p.ts + slotMs,
      importPerKwh: p.importPerKwh,
      ...(co2 !== undefined ? { co2GPerKwh: co2 } : {}),
    };
  });
}
