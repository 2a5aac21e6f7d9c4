import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeNumber,
  decodeString,
  encodeNumber,
  encodeString,
  sunspecSentinel,
} from '../../../adapters/modbus/codec.js';

describe('register codec', () => {
  it('float32 in all four byte/word orders (the same 1234.5 as four devices send it)', () => {
    // 1234.5 = 0x449A5000
    expect(decodeNumber([0x449a, 0x5000], 'float32')).toBe(1234.5);
    expect(decodeNumber([0x5000, 0x449a], 'float32', { wordOrder: 'little' })).toBe(1234.5);
    expect(decodeNumber([0x9a44, 0x0050], 'float32', { byteOrder: 'little' })).toBe(1234.5);
    expect(decodeNumber([0x0050, 0x9a44], 'float32', { wordOrder: 'little', byteOrder: 'little' })).toBe(1234.5);
  });

  it('signed and unsigned integers', () => {
    expect(decodeNumber([0xfffe], 'int16')).toBe(-2);
    expect(decodeNumber([0xfffe], 'uint16')).toBe(65534);
    expect(decodeNumber([0xffff, 0xfffe], 'int32')).toBe(-2);
    expect(decodeNumber([0x0001, 0x0000], 'uint32')).toBe(65536);
    expect(decodeNumber([0, 0, 0x0001, 0x0000], 'uint64')).toBe(65536);
  });

  it('SunSpec sentinels are missing only when asked for, NaN always', () => {
    for (const t of [
      'int16',
      'uint16',
      'int32',
      'uint32',
      'sunssf',
      'enum16',
      'bitfield32',
      'int64',
      'uint64',
    ] as const) {
      expect(decodeNumber(sunspecSentinel(t), t, { sunspecSentinels: true }), t).toBeUndefined();
    }
    expect(decodeNumber([0x8000], 'int16')).toBe(-32768);
    expect(decodeNumber([0x7fc0, 0], 'float32')).toBeUndefined();
    expect(decodeNumber([0x7f80, 0], 'float32')).toBeUndefined(); // +Infinity
  });

  it('round-trips every integer type and order', () => {
    const orders = fc.record({
      wordOrder: fc.constantFrom('big' as const, 'little' as const),
      byteOrder: fc.constantFrom('big' as const, 'little' as const),
    });
    fc.assert(
      fc.property(fc.integer({ min: -0x80000000, max: 0x7fffffff }), orders, (n, enc) => {
        expect(decodeNumber(encodeNumber(n, 'int32', enc), 'int32', enc)).toBe(n);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: -0x8000, max: 0x7fff }), orders, (n, enc) => {
        expect(decodeNumber(encodeNumber(n, 'int16', enc), 'int16', enc)).toBe(n);
      }),
    );
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), orders, (x, enc) => {
        expect(decodeNumber(encodeNumber(x, 'float32', enc), 'float32', enc)).toBe(Math.fround(x));
      }),
    );
  });

  it('strings are NUL-terminated and trimmed', () => {
    expect(decodeString(encodeString('SunSpec', 8))).toBe('SunSpec');
    expect(encodeString('AB', 2)).toEqual([0x4142, 0]);
  });
});
