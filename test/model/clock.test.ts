import { describe, expect, it } from 'vitest';
import { SystemClock, VirtualClock } from '../../src/model/clock.js';

describe('VirtualClock', () => {
  it('fires timers in time order and only when advanced', () => {
    const clock = new VirtualClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b@300'), 300);
    clock.setTimeout(() => fired.push('a@100'), 100);
    clock.setTimeout(() => fired.push('c@100'), 100);
    expect(fired).toEqual([]);
    clock.advance(150);
    expect(fired).toEqual(['a@100', 'c@100']);
    expect(clock.now()).toBe(1150);
    clock.advance(1000);
    expect(fired).toEqual(['a@100', 'c@100', 'b@300']);
    expect(clock.now()).toBe(2150);
  });

  it('repeats intervals and stops them when cleared', () => {
    const clock = new VirtualClock(0);
    let n = 0;
    const h = clock.setInterval(() => n++, 100);
    clock.advance(350);
    expect(n).toBe(3);
    clock.clearInterval(h);
    clock.advance(1000);
    expect(n).toBe(3);
    expect(clock.pending()).toBe(0);
  });

  it('lets a timer schedule another timer within the same advance', () => {
    const clock = new VirtualClock(0);
    const at: number[] = [];
    clock.setTimeout(() => {
      at.push(clock.now());
      clock.setTimeout(() => at.push(clock.now()), 50);
    }, 50);
    clock.advance(200);
    expect(at).toEqual([50, 100]);
  });
});

describe('SystemClock', () => {
  it('tracks live timers so stop() can be proven clean', async () => {
    const clock = new SystemClock();
    const h = clock.setInterval(() => {}, 10);
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 5));
    expect(clock.pending()).toBe(1);
    clock.clearInterval(h);
    expect(clock.pending()).toBe(0);
  });
});
