import type { Limit, Reason, Setpoint } from '../model/decision.js';
import type { SiteSnapshot } from '../model/site.js';
import type { Arbitration } from './arbiter.js';
import type { CircuitTree } from './circuit-tree.js';
import {
  type AllocatorState,
  allocateTreeSteps,
  EMPTY_ALLOCATOR_STATE,
  type TreeAllocatorOptions,
} from './tree-allocator.js';

/**
 * The loop's allocator over the circuit tree: keeps the hysteresis memory
 * between rounds (the allocation itself stays a pure function) and turns
 * battery requests (`battery:<id>`) into set-points within their limits.
 */
/**
 * Budgets to set-points for the control loop; `steps` is the same allocation cut in two (the loop runs a
 * turn of the event loop between them on a big site).
 */
export interface LoopAllocator {
  (snapshot: SiteSnapshot, arbitration: Arbitration): Setpoint[];
  steps?(snapshot: SiteSnapshot, arbitration: Arbitration): Generator<void, Setpoint[], void>;
}

export function createTreeAllocator(tree: CircuitTree, options: TreeAllocatorOptions = {}): LoopAllocator {
  let state: AllocatorState = EMPTY_ALLOCATOR_STATE;
  // Batteries once given a set-point: when no policy asks for them any more (a dispatch event
  // ended), they are set to 0 W instead of keeping the last set-point until the SoC floor.
  const batteries = new Set<string>();
  function* steps(snapshot: SiteSnapshot, arbitration: Arbitration): Generator<void, Setpoint[], void> {
    // Battery first (VPP order): its discharge comes out of the export caps before V2G feed-in is shared.
    const bats = batterySetpoints(arbitration);
    const shared = lessBatteryExport(arbitration, bats);
    const out = yield* allocateTreeSteps({
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
  }
  const allocate: LoopAllocator = (snapshot, arbitration) => {
    const it = steps(snapshot, arbitration);
    for (;;) {
      const r = it.next();
      if (r.done) return r.value;
    }
  };
  allocate.steps = steps;
  return allocate;
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
