import { decide as gridSignalsDecide, EMPTY_GRID_INPUT } from '../../policies/grid-signals.js';
import { type BoundPolicy, bindPolicy } from '../model/policy.js';
import type { GridService } from './service.js';

export { createGridService, SimpleSignalSchema, type GridService } from './service.js';
export { GridSignalStore, type GridSignal, type SignalKind } from './signals.js';

/**
 * The grid-tier policies, bound to a service that may be created after the
 * core (the service needs the core's metrics registry, the core needs the
 * policies): pass a getter.
 */
export function gridPolicies(service: () => GridService | undefined): BoundPolicy[] {
  return [
    bindPolicy(
      'grid-signals',
      'grid',
      gridSignalsDecide,
      (now: number) => service()?.store.input(now) ?? EMPTY_GRID_INPUT,
    ),
  ];
}
