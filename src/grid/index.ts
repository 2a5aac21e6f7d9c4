import { decide as gridSignalsDecide, EMPTY_GRID_INPUT } from '../../policies/grid-signals.js';
import {
  type PlannedVehicle,
  decide as tariffPlanningDecide,
  type TariffPlanningInput,
} from '../../policies/tariff-planning.js';
import { decide as vppDecide, type VppInput, type VppVehicle } from '../../policies/vpp-dispatch.js';
import type { GatewayConfig } from '../config/schema.js';
import type { Tier } from '../model/decision.js';
import { type BoundPolicy, bindPolicy } from '../model/policy.js';
import type { GridService } from './service.js';

export { createGridService, type GridService, GridStatusSchema, SimpleSignalSchema } from './service.js';
export { type GridSignal, GridSignalStore, type SignalKind } from './signals.js';
export { siteDemandW, siteMeasurements, type VenMeasurements } from './measurements.js';
export { GRID_MIGRATIONS, GridPersistence } from './persistence.js';
export { createPriceFeed, type PriceFeed } from './price-feed.js';
export { compileCron, createTariff, type PriceBreakdown, sessionCost, type Tariff } from './tariff.js';

export interface GridPolicyOptions {
  /** Bidirectional vehicles and what they allow (from the fleet area); none when omitted. */
  readonly vehicles?: (now: number) => readonly VppVehicle[];
  /** Tier of VPP requests: `grid` (DSO/utility set-point, default) or `optimisation` (market). */
  readonly vppTier?: Tier;
  /** Vehicles with a departure and an energy need (from the fleet area); enables tariff planning. */
  readonly plannedVehicles?: (now: number) => readonly PlannedVehicle[];
  /** Planning slot length, ms (default 15 min). */
  readonly planningSlotMs?: number;
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
    bindPolicy(
      'grid-signals',
      'grid',
      gridSignalsDecide,
      (now: number) => service()?.store.input(now) ?? EMPTY_GRID_INPUT,
    ),
  ];
  const vpp = config.grid.vpp;
  if (vpp.enabled) {
    const tier = opts.vppTier ?? 'grid';
    out.push(
      bindPolicy('vpp-dispatch', tier, vppDecide, (now: number): VppInput => {
        const store = service()?.store;
        const sp = store?.input(now).setpoint;
        const signal = sp ? store?.active(now, 'setpoint').find((s) => s.eventId === sp.eventId) : undefined;
        return {
          ...(sp ? { setpoint: sp } : {}),
          ...(signal ? { setpointEnd: signal.end } : {}),
          ...(vpp.battery ? { battery: vpp.battery } : {}),
          vehicles: opts.vehicles?.(now) ?? [],
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
        const svc = service();
        const horizon = Math.max(now + slotMs, ...vehicles.map((v) => v.departureAt));
        const from = Math.floor(now / slotMs) * slotMs;
        const ghg = svc?.store.ghg() ?? [];
        const co2At = (t: number) => {
          for (let i = ghg.length - 1; i >= 0; i--) {
            const g = ghg[i];
            if (g && g.start <= t && t < g.end) return g.value;
          }
          return undefined;
        };
        const prices = svc
          ? svc.tariff.series(from, Math.min(horizon, now + 48 * 3_600_000), slotMs).map((p) => {
              const co2 = co2At(p.ts + slotMs / 2);
              return {
                start: p.ts,
                end: p.ts + slotMs,
                importPerKwh: p.importPerKwh,
                ...(co2 !== undefined ? { co2GPerKwh: co2 } : {}),
              };
            })
          : [];
        return {
          prices,
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
