import type { PowerRequest, Reason } from '../../model/decision.js';
import type { MergedLimit } from '../arbiter.js';
import { DEFAULT_RANK, type EvseRequests, NO_R, NO_W, RANK } from './types.js';

/**
 * Requests per EVSE and tier; the position inside a tier is the urgency (policies sort by laxity).
 * The most important request per EVSE (`lead`) decides its direction: a negative one is V2G feed-in.
 */
export function requestsByEvse(requests: readonly PowerRequest[]): Map<string, EvseRequests> {
  const reqByEvse = new Map<string, EvseRequests>();
  for (let i = 0; i < requests.length; i++) {
    const q = requests[i] as PowerRequest;
    const id = q.target.startsWith('evse:') ? q.target.slice(5) : q.target;
    const rank = RANK[q.reason.tier] ?? -1;
    let entry = reqByEvse.get(id);
    if (!entry) {
      entry = { lead: q, leadRank: rank, leadI: i, w: NO_W, r: NO_R, urgency: Number.POSITIVE_INFINITY };
      reqByEvse.set(id, entry);
    } else if (rank < entry.leadRank) {
      entry.lead = q;
      entry.leadRank = rank;
      entry.leadI = i;
    }
    if (q.powerW <= 0) continue;
    if (entry.w === NO_W) {
      // One slot per tier rank, allocated packed (a sparse write would grow a holey backing store).
      entry.w = new Array<number | undefined>(DEFAULT_RANK).fill(undefined);
      entry.r = new Array<Reason | undefined>(DEFAULT_RANK).fill(undefined);
    }
    if ((entry.w[rank] ?? 0) < q.powerW) {
      entry.w[rank] = q.powerW;
      entry.r[rank] = q.reason;
    }
    if (i < entry.urgency) entry.urgency = i;
  }
  return reqByEvse;
}

/** Per-EVSE caps indexed by EVSE id once, instead of a `evse:<id>` key built per EVSE and round. */
export function ownLimitsOf(limits: ReadonlyMap<string, MergedLimit>): Map<string, MergedLimit> {
  const ownLimits = new Map<string, MergedLimit>();
  for (const [scope, m] of limits) if (scope.startsWith('evse:')) ownLimits.set(scope.slice(5), m);
  return ownLimits;
}
