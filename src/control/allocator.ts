import type { Limit, Reason, Setpoint } from '../model/decision.js';
import { type EvseState, SESSION_STATUSES, type SiteSnapshot } from '../model/site.js';
import type { Arbitration, MergedLimit } from './arbiter.js';
import type { CircuitTree } from './circuit-tree.js';
import {
  type AllocatorState,
  allocateTree,
  EMPTY_ALLOCATOR_STATE,
  type TreeAllocatorOptions,
} from './tree-allocator.js';

export { allocateTree, type TreeAllocatorOptions } from './tree-allocator.js';
export { buildCircuitTree } from './circuit-tree.js';

export interface AllocationInput {
  readonly evses: readonly EvseState[];
  /** Merged limits; `evses` caps the sum of all EVSE power, `evse:<id>` one EVSE. */
  readonly limits: ReadonlyMap<string, MergedLimit>;
}

interface Candidate {
  readonly evse: EvseState;
  readonly phases: 1 | 3;
  readonly minA: number;
  readonly maxA: number;
  readonly wPerA: number;
  readonly capReasons: readonly Reason[];
}

const DEVICE_REASON = (text: string): Reason => ({ policy: 'device', tier: 'safety', text });

/**
 * Share the EVSE budget among active sessions: every session gets at least
 * its minimum current or is paused (lowest priority, latest arrival first),
 * the rest is water-filled so equal sessions get equal current.
 */
export function allocate(input: AllocationInput): Setpoint[] {
  const budget = input.limits.get('evses');
  const budgetW = budget?.maxImportW ?? Number.POSITIVE_INFINITY;
  const setpoints: Setpoint[] = [];
  const candidates: Candidate[] = [];

  for (const evse of input.evses) {
    const phases = evse.vehiclePhases ?? evse.phases;
    if (!SESSION_STATUSES.has(evse.status)) {
      setpoints.push({
        evseId: evse.id,
        currentA: 0,
        powerW: 0,
        phases,
        reasons: [DEVICE_REASON(`no session (${evse.status})`)],
      });
      continue;
    }
    const own = input.limits.get(`evse:${evse.id}`);
    let maxA = evse.maxCurrentA;
    const capReasons: Reason[] = [DEVICE_REASON(`charger maximum ${evse.maxCurrentA} A`)];
    if (own?.maxCurrentA !== undefined && own.maxCurrentA < maxA) {
      maxA = own.maxCurrentA;
      capReasons.unshift(...own.reasons);
    }
    const wPerA = phases * evse.voltageV;
    if (own?.maxImportW !== undefined && own.maxImportW / wPerA < maxA) {
      maxA = own.maxImportW / wPerA;
      capReasons.unshift(...own.reasons);
    }
    candidates.push({ evse, phases, minA: evse.minCurrentA, maxA, wPerA, capReasons });
  }

  // Who fits with their minimum: highest priority, then earliest arrival.
  const ordered = [...candidates].sort(
    (a, b) =>
      b.evse.priority - a.evse.priority ||
      (a.evse.sessionStart ?? 0) - (b.evse.sessionStart ?? 0) ||
      a.evse.id.localeCompare(b.evse.id),
  );
  const served: Candidate[] = [];
  let minSum = 0;
  for (const c of ordered) {
    const need = c.minA * c.wPerA;
    if (c.maxA >= c.minA && minSum + need <= budgetW) {
      served.push(c);
      minSum += need;
    } else {
      const why =
        c.maxA < c.minA
          ? [...c.capReasons, DEVICE_REASON(`limit below minimum ${c.minA} A: paused`)]
          : [
              {
                policy: 'allocator',
                tier: 'safety' as const,
                text: `paused: minimum ${c.minA} A does not fit in the remaining budget`,
              },
              ...(budget?.reasons ?? []),
            ];
      setpoints.push({ evseId: c.evse.id, currentA: 0, powerW: 0, phases: c.phases, reasons: why });
    }
  }

  const level = waterLevel(served, budgetW);
  for (const c of served) {
    const a = Math.max(c.minA, Math.min(c.maxA, level));
    const capped = a >= c.maxA - 1e-9;
    const reasons = capped
      ? [...c.capReasons, ...(budget?.reasons ?? [])]
      : [...(budget?.reasons ?? []), ...c.capReasons];
    const currentA = Math.floor(a * 10) / 10; // chargers take 0.1 A steps; round down, never up
    setpoints.push({ evseId: c.evse.id, currentA, powerW: currentA * c.wPerA, phases: c.phases, reasons });
  }
  const order = new Map(input.evses.map((e, i) => [e.id, i]));
  return setpoints.sort((a, b) => (order.get(a.evseId) ?? 0) - (order.get(b.evseId) ?? 0));
}

/** Highest current level L with sum(clamp(L, min, max) * wPerA) <= budget. */
function waterLevel(served: readonly Candidate[], budgetW: number): number {
  if (served.length === 0) return 0;
  const top = Math.max(...served.map((c) => c.maxA));
  const used = (level: number) => served.reduce((s, c) => s + Math.max(c.minA, Math.min(c.maxA, level)) * c.wPerA, 0);
  if (used(top) <= budgetW) return top;
  let lo = 0;
  let hi = top;
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    if (used(mid) <= budgetW) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * The loop's allocator over the circuit tree: keeps the hysteresis memory
 * between rounds (the allocation itself stays a pure function) and turns
 * battery requests (`battery:<id>`) into set-points within their limits.
 */
export function createTreeAllocator(
  tree: CircuitTree,
  options: TreeAllocatorOptions = {},
): (snapshot: SiteSnapshot, arbitration: Arbitration) => Setpoint[] {
  let state: AllocatorState = EMPTY_ALLOCATOR_STATE;
  // Batteries once given a set-point: when no policy asks for them any more (a dispatch event
  // ended), they are set to 0 W instead of keeping the last set-point until the SoC floor.
  const batteries = new Set<string>();
  return (snapshot, arbitration) => {
    // Battery first (VPP order): its discharge comes out of the export caps before V2G feed-in is shared.
    const bats = batterySetpoints(arbitration);
    const shared = lessBatteryExport(arbitration, bats);
    const out = allocateTree({
      tree,
      evses: snapshot.evses,
      limits: shared.limits,
      ...(shared.rawLimits ? { rawLimits: shared.rawLimits } : {}),
      requests: arbitration.requests,
      now: snapshot.ts,
      state,
      options,
    });
    state = out.state;
    const asked = new Set(bats.map((b) => b.evseId));
    for (const id of batteries) if (!asked.has(id)) bats.push(idleBattery(id));
    for (const id of asked) batteries.add(id);
    return [...out.setpoints, ...bats];
  };
}

/** Scopes whose export cap the tree allocator shares among discharging EVSEs. */
const SHARED_EXPORT_SCOPES: ReadonlySet<string> = new Set(['site', 'evses']);

/**
 * The grid operator's export cap covers battery and V2G together (grid-signals gives `evses` and
 * `battery:<id>` the same budget, net of the other loads): what the battery set-points discharge is
 * taken off every `site`/`evses` export cap, so the feed-in left for V2G is only the rest. Charging
 * batteries are not credited, like import caps are not credited with feed-in.
 */
function lessBatteryExport(
  arbitration: Pick<Arbitration, 'limits' | 'rawLimits'>,
  bats: readonly Setpoint[],
): Pick<Arbitration, 'limits' | 'rawLimits'> {
  let batteryW = 0;
  const ids: string[] = [];
  for (const b of bats) {
    if (b.powerW >= 0) continue;
    batteryW -= b.powerW;
    ids.push(b.evseId.slice('battery:'.length));
  }
  if (batteryW <= 0) return arbitration;
  const note = `, less ${(batteryW / 1000).toFixed(1)} kW discharged first by battery ${ids.join(', ')}`;
  const less = (w: number) => Math.max(0, w - batteryW);
  // A limit that also caps import (a fallback) is split, so the note does not land on its import reason.
  const rawLimits = arbitration.rawLimits?.flatMap((l): Limit[] => {
    if (!SHARED_EXPORT_SCOPES.has(l.scope) || l.maxExportW === undefined) return [l];
    const { maxExportW, ...rest } = l;
    const exportOnly: Limit = {
      scope: l.scope,
      maxExportW: less(maxExportW),
      reason: { ...l.reason, text: `${l.reason.text}${note}` },
    };
    const other = rest.maxImportW !== undefined || rest.maxCurrentA !== undefined || rest.maxPhaseCurrentsA;
    return other ? [rest, exportOnly] : [exportOnly];
  });
  const limits = new Map(arbitration.limits);
  for (const scope of SHARED_EXPORT_SCOPES) {
    const m = limits.get(scope);
    if (m?.maxExportW === undefined) continue;
    const [first, ...rest] = m.reasons;
    limits.set(scope, {
      ...m,
      maxExportW: less(m.maxExportW),
      reasons: first ? [{ ...first, text: `${first.text}${note}` }, ...rest] : m.reasons,
    });
  }
  return { limits, ...(rawLimits ? { rawLimits } : {}) };
}

function idleBattery(id: string): Setpoint {
  return {
    evseId: id,
    currentA: 0,
    powerW: 0,
    phases: 3,
    reasons: [{ policy: 'allocator', tier: 'safety', text: 'no policy asks for battery power: idle' }],
  };
}

/**
 * Battery set-points: the most important request per battery wins, clamped
 * to the battery's own limits. `currentA` carries the signed equivalent
 * current on three phases at 230 V so the dispatcher's dead-band applies.
 */
export function batterySetpoints(arbitration: Pick<Arbitration, 'limits' | 'requests'>): Setpoint[] {
  const out: Setpoint[] = [];
  const seen = new Set<string>();
  for (const q of arbitration.requests) {
    if (!q.target.startsWith('battery:') || seen.has(q.target)) continue;
    seen.add(q.target);
    const lim = arbitration.limits.get(q.target);
    let w = q.powerW;
    const reasons: Reason[] = [q.reason];
    if (lim?.maxImportW !== undefined && w > lim.maxImportW) {
      w = lim.maxImportW;
      reasons.unshift(...lim.reasons);
    }
    if (lim?.maxExportW !== undefined && w < -lim.maxExportW) {
      w = -lim.maxExportW;
      reasons.unshift(...lim.reasons);
    }
    out.push({ evseId: q.target, currentA: Math.round((w / (3 * 230)) * 10) / 10, powerW: w, phases: 3, reasons });
  }
  return out;
}
