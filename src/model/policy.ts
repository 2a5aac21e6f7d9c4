import type { Decision, Tier } from './decision.js';
import type { SiteSnapshot } from './site.js';

/**
 * A policy is a pure decision function: no I/O, no timers, the current time
 * is an argument. `policies/<name>.ts` exports one; `src/cli/compose.ts`
 * binds it to its configuration and tier.
 */
export type DecideFn<C> = (snapshot: SiteSnapshot, config: C, now: number) => Decision;

/** A policy bound to its config, as the control loop runs it. */
export interface BoundPolicy {
  readonly name: string;
  readonly tier: Tier;
  decide(snapshot: SiteSnapshot, now: number): Decision;
}

export function bindPolicy<C>(name: string, tier: Tier, decide: DecideFn<C>, config: C): BoundPolicy {
  return { name, tier, decide: (snapshot, now) => decide(snapshot, config, now) };
}
