import { describe, expect, it } from 'vitest';
import { buildCircuitTree } from '../../src/control/circuit-tree.js';
import { type AllocatorState, allocateTree } from '../../src/control/tree-allocator.js';
import type { EvseState } from '../../src/model/site.js';
import { chargingEvse } from '../helpers/evse.js';

// The allocator recognises a session by its id and start time without building the key string
// every round; a new session on the same EVSE must still start afresh (ramp from its minimum).
const NOW = Date.UTC(2026, 0, 2, 20);
const tree = buildCircuitTree({ fuseA: 63, circuits: [] });

function evse(session: Partial<Pick<EvseState, 'sessionId' | 'sessionStart'>>): EvseState {
  return chargingEvse('cp1/1', { protocol: 'sim', sessionId: undefined, sessionStart: undefined, ...session });
}

/** Rounds one second apart; returns the last set-point and state. */
function rounds(e: EvseState, n: number, t0: number, state?: AllocatorState) {
  let s = state;
  let sp = undefined as ReturnType<typeof allocateTree>['setpoints'][number] | undefined;
  for (let i = 0; i < n; i++) {
    const r = allocateTree({
      tree,
      evses: [e],
      limits: new Map(),
      now: t0 + i * 1000,
      options: { rampUpAPerS: 4, minOffMs: 30_000 },
      ...(s ? { state: s } : {}),
    });
    s = r.state;
    sp = r.setpoints[0];
  }
  return { sp: sp as NonNullable<typeof sp>, state: s as AllocatorState };
}

const startsAfresh = (sp: { currentA: number; reasons: readonly { text: string }[] }) =>
  sp.currentA <= 10 && sp.reasons.some((r) => r.text.startsWith('starting; ramping up'));

describe('tree allocator: session identity', () => {
  const cases: Array<[string, Partial<EvseState>, Partial<EvseState>]> = [
    [
      'a new start time under the same id (one more leading digit)',
      { sessionId: 'a', sessionStart: 5 },
      { sessionId: 'a', sessionStart: 15 },
    ],
    [
      'a new start time under the same id (one digit fewer)',
      { sessionId: 'a', sessionStart: 15 },
      { sessionId: 'a', sessionStart: 5 },
    ],
    [
      'a new start time under the same id (epoch ms)',
      { sessionId: 'a', sessionStart: NOW - 7_200_000 },
      { sessionId: 'a', sessionStart: NOW - 1000 },
    ],
    ['a new id with the same start time', { sessionId: 'a', sessionStart: NOW }, { sessionId: 'b', sessionStart: NOW }],
    ['an id containing @', { sessionId: 'x@1', sessionStart: 2 }, { sessionId: 'x', sessionStart: 12 }],
    ['a start time that disappears', { sessionId: 'a', sessionStart: 0 }, { sessionId: 'a' }],
    ['a fractional start time', { sessionId: 'a', sessionStart: 1.5 }, { sessionId: 'a', sessionStart: 2.5 }],
    ['a negative start time', { sessionId: 'a', sessionStart: -5 }, { sessionId: 'a', sessionStart: -15 }],
  ];
  for (const [name, first, second] of cases) {
    it(`${name}: the same session keeps its current, a new one starts afresh`, () => {
      const a = rounds(evse(first), 10, NOW);
      expect(a.sp.currentA).toBe(32);
      // The same session, next round: it keeps its 32 A.
      const same = rounds(evse(first), 1, NOW + 10_000, a.state);
      expect(same.sp.currentA).toBe(32);
      expect(startsAfresh(same.sp)).toBe(false);
      // A new session on the same EVSE: no memory of the old one.
      const next = rounds(evse(second), 1, NOW + 10_000, a.state);
      expect(startsAfresh(next.sp)).toBe(true);
    });
  }
});
