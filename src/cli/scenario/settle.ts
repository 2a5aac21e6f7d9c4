import type { Activity } from '../../../sim/scenario/activity.js';
import type { SteppingClock } from './clock.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Let loopback I/O settle: event-loop turns until the sim peers have seen no
 * new message for `quietTurns` turns in a row (bounded, so a chatty peer
 * cannot stall a day).
 */
export async function settle(activity: Activity, quietTurns = 3, maxTurns = 100_000): Promise<void> {
  let last = activity.count;
  let quiet = 0;
  for (let i = 0; i < maxTurns && quiet < quietTurns; i++) {
    // Every sim peer answers on the virtual clock, never on a real timer: quiet turns are
    // enough to know the wire is idle.
    await turn();
    const now = activity.count;
    if (now === last) quiet++;
    else {
      quiet = 0;
      last = now;
    }
  }
}

/** Move the clock to `target`, stopping at every due timer to let the wire settle. */
export async function advanceTo(clock: SteppingClock, target: number, activity: Activity): Promise<void> {
  for (;;) {
    const due = clock.nextDue();
    if (due === undefined || due > target) break;
    clock.runUntil(due);
    await settle(activity);
  }
  clock.runUntil(target);
}
