import { describe, expect, it } from 'vitest';
import { GridSignalStore, type GridSignal } from '../../src/grid/signals.js';
import { VirtualClock } from '../../src/model/clock.js';
import { gridConfig } from './helpers.js';

const T0 = Date.UTC(2026, 0, 1, 17);

function makeStore(overrides: Record<string, unknown> = {}) {
  const clock = new VirtualClock(T0);
  const store = new GridSignalStore({
    clock,
    config: gridConfig({
      fallback: { importLimitW: 11_000, sourceTimeoutMs: 60_000, holdAfterEndMs: 600_000 },
      ...overrides,
    }),
    siteLimitW: 50_000,
    failsafeLimitW: 4000,
    staleAfterMs: 10_000,
  });
  return { clock, store };
}

function sig(over: Partial<GridSignal>): GridSignal {
  return {
    kind: 'importLimit',
    value: 30_000,
    source: 'openadr',
    eventId: 'e1',
    start: T0,
    end: T0 + 3_600_000,
    receivedAt: T0,
    ...over,
  };
}

describe('GridSignalStore', () => {
  it('applies a signal only between start and end', () => {
    const { store } = makeStore();
    store.replace('openadr', [sig({ start: T0 + 60_000, end: T0 + 120_000 })], T0);
    expect(store.input(T0).importLimits).toHaveLength(0);
    expect(store.input(T0 + 60_000).importLimits[0]?.value).toBe(30_000);
    expect(store.input(T0 + 119_999).importLimits).toHaveLength(1);
    expect(store.input(T0 + 120_000).importLimits).toHaveLength(0);
  });

  it('engages the fallback when a monitored source goes silent or fails, and releases when it answers', () => {
    const { store } = makeStore();
    store.monitor('openadr');
    expect(store.fallback(T0).active).toBe(true); // never heard yet: safe mode
    store.replace('openadr', [], T0);
    expect(store.fallback(T0).active).toBe(false);
    expect(store.fallback(T0 + 60_001).active).toBe(true);
    expect(store.fallback(T0 + 60_001).why).toContain('openadr unreachable');
    store.heard('openadr', T0 + 70_000);
    expect(store.fallback(T0 + 70_000).active).toBe(false);
    store.unreachable('openadr', 'HTTP 503', T0 + 80_000);
    const fb = store.input(T0 + 80_000).fallback;
    expect(fb?.importLimitW).toBe(11_000);
    expect(fb?.why).toContain('HTTP 503');
  });

  it('keeps applying a known event while the source is down, never past its end', () => {
    const { store } = makeStore();
    store.monitor('openadr');
    store.replace('openadr', [sig({ end: T0 + 600_000 })], T0);
    store.unreachable('openadr', 'ECONNREFUSED', T0 + 1000);
    const during = store.input(T0 + 300_000);
    expect(during.importLimits[0]?.value).toBe(30_000);
    expect(during.fallback?.importLimitW).toBe(11_000);
    const after = store.input(T0 + 600_000);
    expect(after.importLimits).toHaveLength(0);
    expect(after.fallback).toBeDefined();
  });

  it('holds the fallback after a limit ends until the source speaks again (at most holdAfterEndMs)', () => {
    const { store } = makeStore();
    store.replace('http', [sig({ source: 'http', end: T0 + 60_000 })], T0);
    expect(store.fallback(T0 + 30_000).active).toBe(false);
    const fb = store.fallback(T0 + 60_000);
    expect(fb.active).toBe(true);
    expect(fb.why).toContain('ended');
    expect(store.fallback(T0 + 60_000 + 600_000).active).toBe(false);
    store.replace('http', [], T0 + 90_000);
    expect(store.fallback(T0 + 90_000).active).toBe(false);
  });

  it('uses site.failsafeLimitW when no fallback limit is configured', () => {
    const clock = new VirtualClock(T0);
    const store = new GridSignalStore({
      clock,
      config: gridConfig(),
      siteLimitW: 1,
      failsafeLimitW: 4000,
      staleAfterMs: 1,
    });
    store.monitor('oscp');
    expect(store.fallback(T0).importLimitW).toBe(4000);
  });

  it('lists every overlapping limit and picks the most important set-point', () => {
    const { store } = makeStore();
    store.replace(
      'openadr',
      [
        sig({ eventId: 'a', value: 40_000 }),
        sig({ eventId: 'b', value: 25_000 }),
        sig({ eventId: 's1', kind: 'setpoint', value: -10_000, priority: 2 }),
        sig({ eventId: 's2', kind: 'setpoint', value: -30_000, priority: 1 }),
      ],
      T0,
    );
    const input = store.input(T0 + 1);
    expect(input.importLimits.map((l) => l.eventId).sort()).toEqual(['a', 'b']);
    expect(input.setpoint?.eventId).toBe('s2');
  });

  it('measures compliance per event after the response grace', () => {
    const { store } = makeStore({ responseGraceMs: 5000, complianceToleranceW: 0 });
    store.replace('openadr', [sig({ value: 20_000, end: T0 + 60_000 })], T0);
    for (let t = 0; t <= 60_000; t += 1000) store.observe(T0 + t, t < 3000 ? 25_000 : t === 30_000 ? 21_000 : 19_000);
    const [rec] = store.history();
    expect(rec?.responseMs).toBe(3000);
    // 5 s..59 s counted = 55 s, one of them (30 s) non-compliant.
    expect(rec?.observedS).toBe(55);
    expect(rec?.compliantS).toBe(54);
  });

  it('notifies listeners on change', () => {
    const { store } = makeStore();
    let n = 0;
    store.onChange(() => n++);
    store.replace('http', [sig({ source: 'http' })], T0);
    expect(n).toBeGreaterThan(0);
  });
});

describe('GridSignalStore: monitored sources', () => {
  it('does not hold the fallback after an announced end while the monitored source is alive', () => {
    const { store } = makeStore();
    store.monitor('openadr');
    store.replace('openadr', [sig({ end: T0 + 60_000 })], T0);
    store.heard('openadr', T0 + 50_000);
    expect(store.fallback(T0 + 60_000).active).toBe(false);
    expect(store.input(T0 + 60_000).importLimits).toHaveLength(0);
  });
});
