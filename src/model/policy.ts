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

/**
 * Bind a policy to its input. `config` is either plain data or a function
 * evaluated once per round (for inputs that change at run time, e.g. active
 * grid signals or vehicle needs set through the API); the policy itself
 * still only ever sees plain, immutable data.
 */
export function bindPolicy<C>(
  name: string,
  tier: Tier,
  decide: DecideFn<C>,
  config: C | ((now: number) => C),
): BoundPolicy {
  const input = typeof config === 'function' ? (config as (now: number) => C) : () => config;
  return { name, tier, decide: (snapshot, now) => decide(snapshot, input(now), now) };
}
