import { drawnMask, drawnPhases } from './drawn-phases.js';
import { firstOver } from './constraints.js';
import { reason } from './reasons.js';
import type { Cand, Constraint } from './types.js';

/**
 * Step 4: hold back increases that would only fit once someone else has actually reduced (vehicles
 * answer in 2-30 s): count what every session may still draw, give up dead-bands that no longer fit,
 * then hold increases on constraints that are over. Run only when step 3 left something pending.
 */
export function holdIncreases(cands: readonly Cand[], all: readonly Constraint[], dischargeUse: Float64Array): void {
  const used = new Float64Array(all.length);
  const over = new Uint8Array(all.length);
  let pending = true;
  for (let iter = 0; iter < 6 && pending; iter++) {
    used.set(dischargeUse);
    for (const c of cands) {
      const effA = Math.max(c.a, c.holdNowA);
      if (effA <= 0) continue;
      const ph = c.a > 0 || !c.mem ? c.phases : c.mem.phases;
      const drawn = drawnPhases(ph, c.preferred);
      const mask = drawnMask(c.rotation, drawn);
      const wPerA = drawn * c.voltageV;
      const load = effA + c.overdrawA;
      for (const k of c.cons) {
        const cf = k.phase < 0 ? wPerA : mask[k.phase] ? 1 : 0;
        if (cf !== 0) used[k.id] = (used[k.id] as number) + load * cf;
      }
    }
    let anyOver = false;
    for (const k of all) {
      const isOver = (used[k.id] as number) > k.capacity + 1e-6;
      over[k.id] = isOver ? 1 : 0;
      if (isOver) anyOver = true;
    }
    if (!anyOver) break;
    // First give up the dead-band where it no longer fits, then hold back increases.
    let changed = false;
    for (const c of cands) {
      if (c.sticky >= 0 && firstOver(c.cons, over, false)) {
        c.a = c.sticky;
        c.sticky = -1;
        changed = true;
      }
    }
    if (!changed) {
      for (const c of cands) {
        const prevA = c.mem?.currentA ?? 0;
        if (c.a <= prevA) continue;
        const k = firstOver(c.cons, over, true);
        if (!k) continue;
        c.a = prevA;
        c.reasons = [
          reason('allocator', 'increase held until other vehicles have followed their decrease'),
          ...k.reasons,
          ...c.reasons,
        ];
        changed = true;
      }
    }
    pending = changed;
  }
}
