import { describe, expect, it } from 'vitest';
import { SteppingClock } from '../../src/cli/scenario/clock.js';

describe('SteppingClock.nextDue', () => {
  it('is the earliest pending timer, follows intervals and clears, and is undefined when none is left', () => {
    const c = new SteppingClock(1000);
    expect(c.nextDue()).toBeUndefined();
    const late = c.setTimeout(() => {}, 500);
    const every = c.setInterval(() => {}, 200);
    c.setTimeout(() => {}, 50);
    expect(c.nextDue()).toBe(1050);
    c.runUntil(1050);
    expect(c.nextDue()).toBe(1200);
    c.runUntil(1200);
    expect(c.nextDue()).toBe(1400);
    c.clearInterval(every);
    expect(c.nextDue()).toBe(1500);
    c.clearTimeout(late);
    expect(c.nextDue()).toBeUndefined();
  });
});
