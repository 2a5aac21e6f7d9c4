/**
 * The simulators' own register encoding, written from the Modbus and
 * SunSpec documents rather than taken from the gateway, so that a codec bug
 * in the gateway shows up as a failing test instead of being confirmed by
 * its own simulator. Registers are 16-bit words, bytes big-endian inside a
 * word (Modbus); multi-word values are high word first unless the device
 * swaps them (`wordOrder: 'low-first'`, as many meters and PLCs do).
 */
export const SIM_REGISTER_TYPES = [
  'uint16',
  'int16',
  'enum16',
  'bitfield16',
  'sunssf',
  'acc16',
  'uint32',
  'int32',
  'acc32',
  'bitfield32',
  'float32',
  'uint64',
  'int64',
  'string',
] as const;
export type SimRegisterType = (typeof SIM_REGISTER_TYPES)[number];

export type WordOrder = 'high-first' | 'low-first';

const TWO_WORDS: ReadonlySet<SimRegisterType> = new Set(['uint32', 'int32', 'acc32', 'bitfield32', 'float32']);

/** Registers a value of this type occupies (`length` for strings). */
export function wordsOf(type: SimRegisterType, length = 1): number {
  if (type === 'string') return length;
  if (type === 'uint64' || type === 'int64') return 4;
  return TWO_WORDS.has(type) ? 2 : 1;
}

/** Register words of a raw (already scaled) number; integers are rounded and clamped to the type. */
export function encodeRaw(type: SimRegisterType, value: number, order: WordOrder = 'high-first'): number[] {
  const buf = Buffer.alloc(4);
  switch (type) {
    case 'float32':
      buf.writeFloatBE(value, 0);
      break;
    case 'int32':
      buf.writeInt32BE(clampInt(value, -0x80000000, 0x7fffffff), 0);
      break;
    case 'uint32':
    case 'acc32':
    case 'bitfield32':
      buf.writeUInt32BE(clampInt(value, 0, 0xffffffff), 0);
      break;
    case 'int16':
    case 'sunssf':
      return [clampInt(value, -0x8000, 0x7fff) & 0xffff];
    case 'string':
      throw new Error('strings are encoded with encodeText');
    case 'uint64':
    case 'int64': {
      // Energy counters of some meters (ABB, Schneider); four words, the same word order rule.
      const b8 = Buffer.alloc(8);
      const big = BigInt(Math.round(value));
      if (type === 'int64') b8.writeBigInt64BE(big, 0);
      else b8.writeBigUInt64BE(big < 0n ? 0n : big > 0xffffffffffffffffn ? 0xffffffffffffffffn : big, 0);
      const w = [0, 2, 4, 6].map((i) => b8.readUInt16BE(i));
      return order === 'low-first' ? w.reverse() : w;
    }
    default:
      return [clampInt(value, 0, 0xffff)];
  }
  const words = [buf.readUInt16BE(0), buf.readUInt16BE(2)];
  return order === 'low-first' ? words.reverse() : words;
}

/** The raw number held in register words. */
export function decodeRaw(type: SimRegisterType, words: readonly number[], order: WordOrder = 'high-first'): number {
  const w = order === 'low-first' && words.length >= 2 ? [...words].reverse() : words;
  const buf = Buffer.alloc(w.length * 2);
  w.forEach((x, i) => {
    buf.writeUInt16BE(x & 0xffff, i * 2);
  });
  switch (type) {
    case 'float32':
      return buf.readFloatBE(0);
    case 'uint64':
      return Number(buf.readBigUInt64BE(0));
    case 'int64':
      return Number(buf.readBigInt64BE(0));
    case 'int32':
      return buf.readInt32BE(0);
    case 'uint32':
    case 'acc32':
    case 'bitfield32':
      return buf.readUInt32BE(0);
    case 'int16':
    case 'sunssf':
      return buf.readInt16BE(0);
    default:
      return buf.readUInt16BE(0);
  }
}

/** Latin-1 text, two characters per register, NUL padded (SunSpec strings). */
export function encodeText(text: string, length: number): number[] {
  const buf = Buffer.alloc(length * 2);
  buf.write(text.slice(0, length * 2), 'latin1');
  const out: number[] = [];
  for (let i = 0; i < length; i++) out.push(buf.readUInt16BE(i * 2));
  return out;
}

/**
 * What a device answers for a point it does not implement (SunSpec's
 * "not implemented" values; float32 NaN for IEEE devices). Accumulators
 * read 0, which SunSpec defines as "not accumulated".
 */
export function notImplemented(type: SimRegisterType, length = 1): number[] {
  switch (type) {
    case 'int16':
    case 'sunssf':
      return [0x8000];
    case 'acc16':
      return [0];
    case 'int32':
      return [0x8000, 0];
    case 'acc32':
      return [0, 0];
    case 'uint32':
    case 'bitfield32':
      return [0xffff, 0xffff];
    case 'float32':
      return [0x7fc0, 0];
    case 'uint64':
      return [0xffff, 0xffff, 0xffff, 0xffff];
    case 'int64':
      return [0x8000, 0, 0, 0];
    case 'string':
      return new Array<number>(length).fill(0);
    default:
      return [0xffff];
  }
}

export function isNotImplemented(type: SimRegisterType, words: readonly number[]): boolean {
  // An accumulator at 0 is a valid (if empty) count, never "missing".
  if (type === 'acc16' || type === 'acc32' || type === 'string') return false;
  if (type === 'float32') return Number.isNaN(decodeRaw(type, words));
  const s = notImplemented(type);
  return words.length === s.length && words.every((w, i) => w === s[i]);
}

function clampInt(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.round(v)));
}
