import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { gcTuningFor } from '../../src/cli/gc-tuning.js';

/**
 * A node process that applies the tuning (or not), then allocates like a
 * busy gateway: short-lived objects with a share that survives a few
 * scavenges. Prints V8's young-generation size afterwards, MiB.
 */
function youngAfterLoad(env: Record<string, string>, execArgv: string[] = []): { young: number; stderr: string } {
  const script = `
    const v8 = await import('node:v8');
    const { applyGcTuning } = await import('./src/cli/gc-tuning.ts');
    const applied = applyGcTuning({ youngMiB: 4, heapGrowingPercent: 25 });
    const keep = new Array(20000);
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 50000; i++) keep[(round * 50000 + i) % 20000] = { i, s: 'x' + i, a: [i, round] };
      await new Promise((r) => setImmediate(r));
    }
    const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576;
    applied.stop();
    console.log(JSON.stringify({ young, applied }));
  `;
  const r = spawnSync(process.execPath, [...execArgv, '--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  const young = line.startsWith('{') ? (JSON.parse(line) as { young: number }).young : Number.NaN;
  return { young, stderr: r.stderr };
}

describe('V8 GC tuning of `gridkeeper run`', () => {
  it('sizes the young generation from the number of chargers, within V8 steps, with 25 % old headroom', () => {
    expect(gcTuningFor(1)).toEqual({ youngMiB: 4, heapGrowingPercent: 25 });
    expect(gcTuningFor(1000)).toEqual({ youngMiB: 8, heapGrowingPercent: 25 });
    expect(gcTuningFor(1001).youngMiB).toBe(16);
    expect(gcTuningFor(5000).youngMiB).toBe(32);
    expect(gcTuningFor(100_000).youngMiB).toBe(32);
  });

  it('keeps the young generation at its cap under load (V8 alone grows it to 32 MiB)', () => {
    const tuned = youngAfterLoad({});
    expect(tuned.stderr).toBe('');
    expect(tuned.young).toBeLessThanOrEqual(4);
    const untuned = youngAfterLoad({ GRIDKEEPER_GC_TUNING: 'off' });
    expect(untuned.young).toBeGreaterThan(4);
  });

  it("leaves the young generation to the operator's own --max-semi-space-size", () => {
    const own = youngAfterLoad({}, ['--max-semi-space-size=8']);
    expect(own.young).toBeGreaterThan(4);
  });

  it('rejects a malformed override with a clear error', async () => {
    const { applyGcTuning } = await import('../../src/cli/gc-tuning.js');
    expect(() => applyGcTuning(gcTuningFor(10), { GRIDKEEPER_GC_YOUNG_MIB: 'lots' }, [])).toThrow(
      /GRIDKEEPER_GC_YOUNG_MIB must be a whole number >= 0, got "lots"/,
    );
  });
});
