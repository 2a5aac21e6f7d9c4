import { describe, expect, it } from 'vitest';
import { benchModbus } from '../../../bench/modbus.js';

describe('bench/modbus.ts', () => {
  it('measures reads over one link without errors (smoke run, not a timing assertion)', async () => {
    const r = await benchModbus({ durationMs: 100 });
    expect(r.map((x) => x.name)).toHaveLength(2);
    for (const x of r) {
      expect(x.errors).toBe(0);
      expect(x.reads).toBeGreaterThan(0);
      expect(x.served).toBe(x.reads);
    }
  });
});
