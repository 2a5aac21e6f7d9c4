import { type PhaseRotation, ROTATION } from '../../model/site.js';
import { siteMask } from '../circuit-tree.js';

type Mask = readonly [boolean, boolean, boolean];

/**
 * The phases a session draws on: those its set-point offers (1 or 3), but two for a 2-phase vehicle
 * offered three (its on-board charger takes the charger's L1 and L2, so the third phase stays free
 * for the others).
 */
export function drawnPhases(offered: 1 | 3, vehicle: 1 | 2 | 3): 1 | 2 | 3 {
  return offered === 3 && vehicle === 2 ? 2 : offered;
}

/** Each rotation's site phases of the charger's L1 and L2 terminals. */
const TWO = new Map<PhaseRotation, Mask>(
  (Object.keys(ROTATION) as PhaseRotation[]).map((r) => {
    const [a, b] = ROTATION[r];
    return [r, [a === 0 || b === 0, a === 1 || b === 1, a === 2 || b === 2] as const];
  }),
);

/** The site phases a session drawing on `n` phases loads, through its charger's rotation. */
export function drawnMask(rotation: PhaseRotation, n: 1 | 2 | 3): Mask {
  return n === 2 ? (TWO.get(rotation) as Mask) : siteMask(rotation, n);
}
