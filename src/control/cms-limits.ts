import type { Decision, Limit } from '../model/decision.js';
import type { BoundPolicy } from '../model/policy.js';
import type { GatewayBusPort } from '../ports/bus.js';
import type { SiteSnapshot } from '../model/site.js';

interface CmsCap {
  readonly capA: number;
  readonly ts: number;
  readonly what: string;
}

/**
 * The arbiter's `cms` tier: charging profiles the CMS set on chargers,
 * as the OCPP proxy reports them (`cms.limit` events; the core never sees
 * the adapter). Each becomes a per-EVSE current cap, so the allocator
 * gives that charger no more than it may take and shares the rest among
 * the others, and the reason names the CMS profile when it binds.
 */
export class CmsLimits {
  private readonly caps = new Map<string, CmsCap>();

  /**
   * `onChange` runs after each new or lifted cap: the budget a capped charger frees goes to the others
   * in the next round, not at the next periodic one.
   */
  attach(bus: GatewayBusPort, onChange?: () => void): () => void {
    return bus.on('cms.limit', (e) => {
      const before = this.caps.get(e.chargerId)?.capA;
      if (e.capA === undefined) this.caps.delete(e.chargerId);
      else this.caps.set(e.chargerId, { capA: e.capA, ts: e.ts, what: e.what });
      if (before !== e.capA) onChange?.();
    });
  }

  decide(snapshot: SiteSnapshot): Decision {
    if (this.caps.size === 0) return { limits: [], requests: [] };
    const limits: Limit[] = [];
    for (const e of snapshot.evses) {
      const cap = this.caps.get(e.chargerId);
      if (!cap) continue;
      limits.push({
        scope: `evse:${e.id}`,
        maxCurrentA: cap.capA,
        reason: {
          policy: 'cms-profile',
          tier: 'cms',
          text: `CMS profile (${cap.what}) on ${e.chargerId} limits to ${cap.capA} A`,
        },
      });
    }
    return { limits, requests: [] };
  }

  /** As the control loop runs it (registered by the composition root beside the policies). */
  policy(): BoundPolicy {
    return { name: 'cms-profile', tier: 'cms', decide: (snapshot) => this.decide(snapshot) };
  }
}
