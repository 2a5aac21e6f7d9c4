import { describe, expect, it } from 'vitest';
import { Backoff, delayFor } from '../../src/util/backoff.js';

describe('Backoff', () => {
  it('doubles from the initial delay up to the maximum and starts over after reset', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(b.attempts).toBe(6);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('jitter keeps every delay within [d(1-j), d]', () => {
    const rs = [0, 0.5, 0.999];
    let i = 0;
    const b = new Backoff({ initialMs: 1000, maxMs: 8000, jitter: 0.5, random: () => rs[i++ % 3] as number });
    expect(b.next()).toBe(500);
    expect(b.next()).toBe(1500);
    expect(b.next()).toBeGreaterThan(3990);
  });

  it('never overflows on a long outage and refuses a nonsense range', () => {
    expect(delayFor({ initialMs: 1000, maxMs: 60_000 }, 10_000)).toBe(60_000);
    expect(() => new Backoff({ initialMs: 0, maxMs: 10 })).toThrow(/initialMs/);
    expect(() => new Backoff({ initialMs: 100, maxMs: 10 })).toThrow(/maxMs/);
  });
});
