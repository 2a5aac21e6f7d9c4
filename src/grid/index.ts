import { decide as gridSignalsDecide, EMPTY_GRID_INPUT } from '../../policies/grid-signals.js';
import { decide as vppDecide, type VppInput, type VppVehicle } from '../../policies/vpp-dispatch.js';
import type { GatewayConfig } from '../config/schema.js';
import type { Tier } from '../model/decision.js';
import { type BoundPolicy, bindPolicy } from '../model/policy.js';
import type { GridService } from './service.js';

export { createGridService, type GridService, SimpleSignalSchema } from './service.js';
export { type GridSignal, GridSignalStore, type SignalKind } from './signals.js';
export { siteMeasurements } from './measurements.js';

export interface GridPolicyOptions {
  /** Bidirectional vehicles and what they allow (from the fleet area); none when omitted. */
  readonly vehicles?: (now: number) => readonly VppVehicle[];
  /** Tier of VPP requests: `grid` (DSO/utility set-point, default) or `optimisation` (market). */
  readonly vppTier?: Tier;
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
  return out;
}
