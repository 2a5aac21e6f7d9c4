import { mergeLimits } from '../../src/control/arbiter.js';
import type { CircuitTree } from '../../src/control/circuit-tree.js';
import {
  type AllocatorState,
  allocateTree,
  type TreeAllocation,
  type TreeAllocatorOptions,
} from '../../src/control/tree-allocator.js';
import type { Limit, PowerRequest } from '../../src/model/decision.js';
import type { EvseState } from '../../src/model/site.js';

export interface Round {
  readonly tree: CircuitTree;
  readonly evses: EvseState[];
  /** Unmerged, as the arbiter hands them over (each binds its own tier and below). */
  readonly limits?: Limit[];
  readonly requests?: PowerRequest[];
  readonly options?: TreeAllocatorOptions;
  readonly state?: AllocatorState | undefined;
  readonly now: number;
}

/** One allocator round with the limits both merged and raw, as the control loop passes them. */
export function allocateRound(r: Round): TreeAllocation {
  const limits = r.limits ?? [];
  return allocateTree({
    tree: r.tree,
    evses: r.evses,
    limits: mergeLimits(limits),
    rawLimits: limits,
    requests: r.requests ?? [],
    now: r.now,
    options: r.options ?? {},
    ...(r.state ? { state: r.state } : {}),
  });
}
