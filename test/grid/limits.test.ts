import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { GridSchema } from '../../src/config/sections/grid.js';
import { LimitWatch, warnDeprecatedGridKeys } from '../../src/grid/limits.js';
import type { GridLimitStatus } from '../../src/model/grid.js';
import { type GridSignalsInput, section14aMinimumW } from '../../src/model/grid-signals.js';
import { createLogger } from '../../src/util/logger.js';
import { testConfig } from '../helpers/core.js';

const BASE: GridSignalsInput = {
  importLimits: [],
  exportLimits: [],
  siteLimitW: 60_000,
  marginW: 500,
  section14aMinW: 7560,
  staleAfterMs: 10_000,
  simpleLevelFactors: [1, 0.75, 0.5, 0],
};

function capture() {
  const lines: Array<{ level: number; msg: string }> = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, log: createLogger({ destination, level: 'info' }) };
}

describe('§14a minimum (BK6-22-300 Annex 1, 4.5.2)', () => {
  const gzf = GridSchema.parse({}).section14a.gzf;
  it('is 4.2 kW + (n − 1) · GZF · 4.2 kW, GZF 0.8 for n = 2, falling with n', () => {
    expect(section14aMinimumW(1, gzf)).toBe(4200);
    expect(section14aMinimumW(2, gzf)).toBeCloseTo(4200 + 0.8 * 4200, 6);
    expect(section14aMinimumW(3, gzf)).toBeCloseTo(4200 + 2 * 0.75 * 4200, 6);
    expect(section14aMinimumW(20, gzf)).toBeCloseTo(4200 + 19 * 0.45 * 4200, 6);
    const factors = Object.entries(gzf).sort((a, b) => Number(a[0]) - Number(b[0]));
    for (let i = 1; i < factors.length; i++) expect(factors[i]?.[1]).toBeLessThan(factors[i - 1]?.[1] as number);
  });
  it('takes a configured table', () => {
    expect(section14aMinimumW(4, { '2': 1, '4': 0.5 })).toBe(4200 + 3 * 0.5 * 4200);
  });
});

describe('LimitWatch: a limit shown as active is a limit met at the meter', () => {
  const limit = (value: number, extra: Partial<GridSignalsInput['importLimits'][number]> = {}): GridSignalsInput => ({
    ...BASE,
    importLimits: [{ value, source: 'openadr', eventId: 'ev-1', label: 'openadr event (ev-1)', ...extra }],
  });

  it('gives the response time, then says "not met" loudly when the meter stays above, and "met" when it comes down', () => {
    const { log, lines } = capture();
    const changes: GridLimitStatus[] = [];
    let input = limit(19_700);
    const w = new LimitWatch({ input: () => input, toleranceW: 200, log, onChange: (s) => changes.push(s) });
    const t0 = 1_000_000;
    for (let t = 0; t <= 9000; t += 1000) w.observe(t0 + t, 31_000);
    expect(w.status().met).toBeUndefined(); // within 10 s of the start
    for (let t = 10_000; t <= 13_000; t += 1000) w.observe(t0 + t, 31_000);
    expect(w.status()).toMatchObject({ met: false, importLimitW: 19_700, source: 'openadr', eventId: 'ev-1' });
    expect(w.status().why).toContain('not met: grid meter at 31.0 kW is above the 19.7 kW limit');
    expect(lines.some((l) => l.level === 40 && l.msg.includes('not met'))).toBe(true);
    w.observe(t0 + 14_000, 19_000);
    expect(w.status().met).toBe(true);
    expect(changes.map((c) => c.met)).toEqual([undefined, false, true]);
    // Under the limit is met at once; a short excursion later is not yet "not met".
    w.observe(t0 + 14_500, 20_500);
    expect(w.status().met).toBe(true);
    // A new, lower limit gets its own response time.
    input = limit(10_000, { eventId: 'ev-2' });
    w.observe(t0 + 15_000, 19_000);
    expect(w.status().met).toBeUndefined();
    w.observe(t0 + 16_000, 9_000);
    expect(w.status().met).toBe(true);
  });

  it('a limit above the contract is judged at the contract and says it was clamped', () => {
    const { log } = capture();
    const w = new LimitWatch({ input: () => limit(66_000, { source: 'oscp' }), toleranceW: 200, log });
    for (let t = 0; t <= 12_000; t += 1000) w.observe(t, 59_000);
    expect(w.status()).toMatchObject({ met: true, importLimitW: 60_000 });
    expect(w.status().why).toContain('clamped');
  });

  it('a §14a signal below the minimum is reported as not met at once', () => {
    const { log } = capture();
    const w = new LimitWatch({ input: () => limit(3000, { section14a: true }), toleranceW: 200, log });
    w.observe(0, 2000);
    expect(w.status().met).toBe(false);
    expect(w.status().why).toContain('§14a minimum');
  });
});

describe('deprecated grid keys', () => {
  it('an old config with floorPerDeviceW still loads, with a logged warning', () => {
    const { log, lines } = capture();
    const cfg = testConfig({ grid: { floorPerDeviceW: 4200 } });
    warnDeprecatedGridKeys(cfg, log);
    expect(lines.some((l) => l.level === 40 && l.msg.includes('grid.floorPerDeviceW is deprecated'))).toBe(true);
  });
});
