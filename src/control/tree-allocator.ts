import type { Setpoint } from '../model/decision.js';
import { type EvseState, SESSION_STATUSES } from '../model/site.js';
import { admit } from './allocation/admission.js';
import { candidateOf } from './allocation/candidates.js';
import { buildConstraints } from './allocation/constraints.js';
import { holdIncreases } from './allocation/hold.js';
import { smooth } from './allocation/hysteresis.js';
import { remember } from './allocation/memory.js';
import { reason } from './allocation/reasons.js';
import { ownLimitsOf, requestsByEvse } from './allocation/requests.js';
import {
  type Cand,
  type CandPool,
  type Constraint,
  EMPTY_ALLOCATOR_STATE,
  type Round,
  type SessionMemory,
  settingsOf,
  type TreeAllocation,
  type TreeAllocationInput,
} from './allocation/types.js';
import { type Feeding, feedIn } from './allocation/v2g.js';
import { fillTiers } from './allocation/water-fill.js';

export {
  type AllocatorState,
  EMPTY_ALLOCATOR_STATE,
  type SessionMemory,
  type TreeAllocation,
  type TreeAllocationInput,
  type TreeAllocatorOptions,
} from './allocation/types.js';

/**
 * Circuit-tree allocator. A pure function: the hysteresis memory (what was
 * set when, learnt overdraw, pending decreases) goes in as `state` and comes
 * back out, so the same inputs always give the same set-points.
 *
 * Semantics:
 *  - every node of the tree is a per-phase constraint (plus an optional
 *    power constraint); policy limits on `evses` and `node:<id>` add more;
 *  - safety, grid and contract limits bind every request; a fleet or
 *    optimisation limit binds requests of its own tier and of every less
 *    important tier (a solar limit never holds back a fleet deadline);
 *  - minimums first, in priority / urgency order; whoever does not fit is
 *    paused; then requests tier by tier, then the rest is water-filled so
 *    equal sessions get equal current.
 */

export function allocateTree(input: TreeAllocationInput): TreeAllocation {
  const steps = allocateTreeSteps(input);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * `allocateTree` in two steps, for the control loop to run with a turn of the event loop between them
 * (see `ControlLoop`): the candidates, then the allocation. The caller finishes one allocation before it
 * starts another (the working records are shared through `state.pool`).
 */
export function* allocateTreeSteps(input: TreeAllocationInput): Generator<void, TreeAllocation, void> {
  const s = settingsOf(input.options ?? {});
  const now = input.now;
  const { byNode, evses: evsesCons, all, exports } = buildConstraints(input, s.reserve);
  const consOfNode = new Map<string, Constraint[]>();
  const pool: CandPool = input.state?.pool ?? { records: new Map(), stamp: 0 };
  pool.stamp = (pool.stamp + 1) % Number.MAX_SAFE_INTEGER;
  const round: Round = {
    pool: pool.records,
    stamp: pool.stamp,
    now,
    s,
    prev: input.state ?? EMPTY_ALLOCATOR_STATE,
    ownLimits: ownLimitsOf(input.limits),
    all,
    exports,
    pathCons: (nodeId) => {
      let list = consOfNode.get(nodeId);
      if (!list) {
        list = [];
        for (const n of input.tree.pathOf(nodeId)) list.push(...(byNode.get(n) ?? []));
        list.push(...evsesCons);
        consOfNode.set(nodeId, list);
      }
      return list;
    },
  };
  const reqByEvse = requestsByEvse(input.requests ?? []);

  const setpoints: Setpoint[] = new Array(input.evses.length);
  const cands: Cand[] = [];
  const feeding: Feeding[] = [];
  for (let index = 0; index < input.evses.length; index++) {
    const e = input.evses[index] as EvseState;
    if (!SESSION_STATUSES.has(e.status)) {
      setpoints[index] = {
        evseId: e.id,
        currentA: 0,
        powerW: 0,
        phases: e.vehiclePhases === undefined ? e.phases : e.vehiclePhases === 1 ? 1 : 3,
        reasons: [reason('device', `no session (${e.status})`)],
      };
      continue;
    }
    const req = reqByEvse.get(e.id);
    if (req && req.lead.powerW < 0 && e.bidirectional) {
      feeding.push({ e, index, q: req.lead, rank: req.leadRank, i: req.leadI });
      continue;
    }
    cands.push(candidateOf(e, index, req, round));
  }

  yield;
  const fed = feedIn(feeding, round, setpoints); // 0. V2G feed-in
  admit(cands, round); // 1. minimums
  fillTiers(cands, all); // 2. requests tier by tier, then water-filling
  const pending = smooth(cands, round); // 3. slow up, dead-band
  if (pending) holdIncreases(cands, all, fed.dischargeUse); // 4. hold increases until decreases are followed
  const mems = new Map<string, SessionMemory>(fed.mems);
  remember(cands, round, mems, setpoints);
  return { setpoints, state: { sessions: mems, pool } };
}
