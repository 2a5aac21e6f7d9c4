import type { Decision } from '../src/model/decision.js';
import type { SiteSnapshot } from '../src/model/site.js';
import { decide as loadManagement } from './load-management.js';

export interface SiteOverrideInput {
  /** The operator's temporary site limit, if one is active. */
  readonly override?: {
    readonly limitW: number;
    readonly until: number;
    readonly reason: string;
    readonly setBy: string;
  };
  readonly marginW: number;
  readonly staleAfterMs: number;
  readonly gridStaleAfterMs?: number;
}

/**
 * A temporary site-limit override set by the operator through the API
 * (contract tier): the same arithmetic as load management with the
 * override's limit, so it can only tighten what the contract allows
 * (most-restrictive-wins) and it ends on its own at `until`.
 */
export function decide(snapshot: SiteSnapshot, input: SiteOverrideInput, now: number): Decision {
  const o = input.override;
  if (!o || o.until <= now) return { limits: [], requests: [] };
  const d = loadManagement(
    snapshot,
    {
      limitW: o.limitW,
      marginW: input.marginW,
      staleAfterMs: input.staleAfterMs,
      ...(input.gridStaleAfterMs !== undefined ? { gridStaleAfterMs: input.gridStaleAfterMs } : {}),
    },
    now,
  );
  return {
    requests: [],
    limits: d.limits
      .filter((l) => l.scope === 'evses')
      .map((l) => ({
        ...l,
        reason: {
          policy: 'site-override',
          tier: 'contract' as const,
          text: `operator override ${(o.limitW / 1000).toFixed(1)} kW until ${new Date(o.until).toISOString()} by ${o.setBy} (${o.reason}): ${l.reason.text}`,
        },
      })),
  };
}
