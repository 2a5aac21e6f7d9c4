/**
 * Register <-> value conversion. Devices disagree on word and byte order, so
 * both are flags of a point (a quirk is a profile flag, never code).
 * `undefined` means "no value": not-implemented sentinels and NaN never
 * become numbers.
 */

export type RegisterType =
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'float32'
  | 'int64'
  | 'uint64'
  | 'acc32'
  | 'acc64'
  | 'sunssf'
  | 'enum16'
  | 'bitfield16'
  | 'bitfield32'
  | 'string';

export type WordOrder = 'big' | 'little';
export type ByteOrder = 'big' | 'little';

export interface Encoding {
  /** `big`: most significant register first (Modbus default). `little`: swapped words. */
  readonly wordOrder?: WordOrder;
  /** `little`: the two bytes inside every register are swapped. */
  readonly byteOrder?: ByteOrder;
}

const WIDTH: Record<Exclude<RegisterType, 'string'>, number> = {
  int16: 1,
  uint16: 1,
  sunssf: 1,
  enum16: 1,
  bitfield16: 1,
  int32: 2,
  uint32: 2,
  float32: 2,
  acc32: 2,
  bitfield32: 2,
  int64: 4,
  uint64: 4,
  acc64: 4,
};

/** Number of 16-bit registers a value of `type` occupies (`length` for strings). */
export function registerCount(type: RegisterType, length = 1): number {
  return type === 'string' ? length : WIDTH[type];
}

/** Registers -> big-endian byte buffer, honouring the device's order flags. */
function toBytes(regs: readonly number[], enc: Encoding): Buffer {
  const ordered = enc.wordOrder === 'little' ? [...regs].reverse() : regs;
  const buf = Buffer.alloc(ordered.length * 2);
  ordered.forEach((r, i) => {
    const v = r & 0xffff;
    if (enc.byteOrder === 'little') buf.writeUInt16LE(v, i * 2);
    else buf.writeUInt16BE(v, i * 2);
  });
  return buf;
}

function fromBytes(buf: Buffer, enc: Encoding): number[] {
  const regs: number[] = [];
  for (let i = 0; i < buf.length; i += 2) {
    regs.push(enc.byteOrder === 'little' ? buf.readUInt16LE(i) : buf.readUInt16BE(i));
  }
  return enc.wordOrder === 'little' ? regs.reverse() : regs;
}

export interface DecodeOptions extends Encoding {
  /** Apply the SunSpec "not implemented" sentinels (0x8000, 0xFFFF, 0x80000000, ...). */
  readonly sunspecSentinels?: boolean;
}

/**
 * Decode one numeric value. Returns `undefined` for NaN/Infinity and, with
 * `sunspecSentinels`, for the not-implemented patterns of each type.
 */
export function decodeNumber(
  regs: readonly number[],
  type: RegisterType,
  opts: DecodeOptions = {},
): number | undefined {
  if (type === 'string') throw new Error('decodeNumber: use decodeString for strings');
  const need = WIDTH[type];
  if (regs.length < need) throw new Error(`decodeNumber: ${type} needs ${need} registers, got ${regs.length}`);
  const buf = toBytes(regs.slice(0, need), opts);
  const s = opts.sunspecSentinels === true;
  switch (type) {
    case 'int16':
    case 'sunssf': {
      const v = buf.readInt16BE(0);
      return s && v === -0x8000 ? undefined : v;
    }
    case 'uint16':
    case 'enum16':
    case 'bitfield16': {
      const v = buf.readUInt16BE(0);
      return s && v === 0xffff ? undefined : v;
    }
    case 'int32': {
      const v = buf.readInt32BE(0);
      return s && v === -0x80000000 ? undefined : v;
    }
    case 'uint32':
    case 'bitfield32': {
      const v = buf.readUInt32BE(0);
      return s && v === 0xffffffff ? undefined : v;
    }
    case 'acc32':
      // SunSpec marks an unimplemented accumulator with 0; a real counter at
      // exactly 0 Wh is kept, because a new meter legitimately starts there.
      return buf.readUInt32BE(0);
    case 'float32': {
      const v = buf.readFloatBE(0);
      return Number.isFinite(v) ? v : undefined;
    }
    case 'int64': {
      const v = buf.readBigInt64BE(0);
      return s && v === -0x8000000000000000n ? undefined : Number(v);
    }
    case 'uint64':
    case 'acc64': {
      const v = buf.readBigUInt64BE(0);
      return s && type === 'uint64' && v === 0xffffffffffffffffn ? undefined : Number(v);
    }
  }
}

/** Integer types of one or two registers: their range and writer. */
interface IntCodec {
  readonly lo: number;
  readonly hi: number;
  write(buf: Buffer, n: number): void;
}
const I16: IntCodec = { lo: -0x8000, hi: 0x7fff, write: (b, n) => void b.writeInt16BE(n, 0) };
const U16: IntCodec = { lo: 0, hi: 0xffff, write: (b, n) => void b.writeUInt16BE(n, 0) };
const I32: IntCodec = { lo: -0x80000000, hi: 0x7fffffff, write: (b, n) => void b.writeInt32BE(n, 0) };
const U32: IntCodec = { lo: 0, hi: 0xffffffff, write: (b, n) => void b.writeUInt32BE(n, 0) };
const INT_CODECS: Partial<Record<RegisterType, IntCodec>> = {
  int16: I16,
  sunssf: I16,
  uint16: U16,
  enum16: U16,
  bitfield16: U16,
  int32: I32,
  uint32: U32,
  acc32: U32,
  bitfield32: U32,
};

/** Encode a numeric value into registers (rounded and clamped for integer types). */
export function encodeNumber(value: number, type: RegisterType, enc: Encoding = {}): number[] {
  if (type === 'string') throw new Error('encodeNumber: strings are not numbers');
  const buf = Buffer.alloc(WIDTH[type] * 2);
  const n = Math.round(value);
  const int = INT_CODECS[type];
  if (int) int.write(buf, clamp(n, int.lo, int.hi));
  else if (type === 'float32') buf.writeFloatBE(value, 0);
  else if (type === 'int64') buf.writeBigInt64BE(BigInt(n), 0);
  else buf.writeBigUInt64BE(BigInt(Math.max(0, n)), 0);
  return fromBytes(buf, enc);
}

/** The "not implemented" register pattern of a SunSpec type. */
export function sunspecSentinel(type: RegisterType, length = 1): number[] {
  switch (type) {
    case 'int16':
    case 'sunssf':
      return [0x8000];
    case 'uint16':
    case 'enum16':
    case 'bitfield16':
      return [0xffff];
    case 'int32':
      return [0x8000, 0];
    case 'uint32':
    case 'bitfield32':
      return [0xffff, 0xffff];
    case 'float32':
      return [0x7fc0, 0];
    case 'acc32':
      return [0, 0];
    case 'int64':
      return [0x8000, 0, 0, 0];
    case 'uint64':
      return [0xffff, 0xffff, 0xffff, 0xffff];
    case 'acc64':
      return [0, 0, 0, 0];
    case 'string':
      return new Array<number>(length).fill(0);
  }
}

export function decodeString(regs: readonly number[], enc: Encoding = {}): string {
  const buf = toBytes(regs, { byteOrder: enc.byteOrder ?? 'big' });
  const end = buf.indexOf(0);
  return buf
    .subarray(0, end < 0 ? buf.length : end)
    .toString('latin1')
    .trim();
}

export function encodeString(text: string, length: number): number[] {
  const buf = Buffer.alloc(length * 2);
  buf.write(text.slice(0, length * 2), 'latin1');
  return fromBytes(buf, {});
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}
