import { describe, expect, it } from 'vitest';
import { allocate } from '../../sim/baseline/allocate.js';
import { sdm630Registers } from '../../sim/scenario/meter-server.js';

describe('scenario site parts', () => {
  it('encodes the SDM630 registers as high-word-first float32 at the documented addresses', () => {
    const regs = sdm630Registers({ powerW: -1234.5, currentsA: [10, -5, 0], importWh: 2500, exportWh: 100 }, 230);
    const f = (addr: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt16BE(regs[addr] ?? 0, 0);
      b.writeUInt16BE(regs[addr + 1] ?? 0, 2);
      return b.readFloatBE(0);
    };
    expect(f(0x0034)).toBeCloseTo(-1234.5, 3);
    expect(f(0x0006)).toBe(10);
    // Phase currents are magnitudes, as the meter shows them.
    expect(f(0x0008)).toBe(5);
    expect(f(0x0048)).toBeCloseTo(2.5, 5);
    expect(f(0x004a)).toBeCloseTo(0.1, 5);
    expect(f(0x0000)).toBe(230);
  });

  it('baseline: minimums first by urgency, plans next, then equal shares, every phase and circuit respected', () => {
    const s = (id: string, phases: number[], order: number, requiredA = 0) => ({
      id,
      sitePhases: phases,
      minA: 6,
      maxA: 32,
      requiredA,
      order,
      path: ['row'],
    });
    const alloc = allocate([s('a', [0, 1, 2], 2), s('b', [0], 1, 20), s('c', [1], 3)], {
      phaseA: [30, 40, 40],
      powerW: 1e9,
      circuitA: new Map([['row', [30, 30, 30] as const]]),
      voltageV: 230,
    });
    // L1 carries a (3-phase) and b (1-phase): 30 A in all; b's plan needs 20 A.
    expect((alloc.get('a') ?? 0) + (alloc.get('b') ?? 0)).toBeLessThanOrEqual(30);
    expect(alloc.get('b')).toBeGreaterThanOrEqual(20);
    expect(alloc.get('a')).toBeGreaterThanOrEqual(6);
    // L2 carries a and c within the circuit's 30 A.
    expect((alloc.get('a') ?? 0) + (alloc.get('c') ?? 0)).toBeLessThanOrEqual(30);
    // Not enough for a fourth minimum on L1: it is paused, not squeezed below 6 A.
    const tight = allocate([s('x', [0], 1), s('y', [0], 2), s('z', [0], 3)], {
      phaseA: [13, 40, 40],
      powerW: 1e9,
      circuitA: new Map(),
      voltageV: 230,
    });
    expect([...tight.values()].filter((a) => a > 0).length).toBe(2);
    expect(tight.get('z')).toBe(0);
  });
});
