import { decodeNumber, decodeString, registerCount } from '../codec.js';
import { ModbusExceptionError } from '../errors.js';
import type { ModbusLink } from '../link.js';
import { END_MODEL_ID, SUNSPEC_BASES, SUNSPEC_MODELS, SUNS_MARKER, type SunSpecModel } from './models.js';

/** One model found on the device. `address` is the register of its ID. */
export interface ModelLocation {
  readonly id: number;
  readonly address: number;
  /** Value of the L register. */
  readonly length: number;
}

export interface DiscoveryResult {
  readonly base: number;
  readonly models: readonly ModelLocation[];
}

/** Highest number of models walked before giving up (a device whose chain never ends). */
const MAX_MODELS = 64;
/** FC03 reads at most 125 registers. */
const MAX_READ = 125;

export class SunSpecNotFoundError extends Error {}

/**
 * Find the SunSpec map: `SunS` at 40000, 0 or 50000, then walk
 * (model id, length) pairs until 0xFFFF. An exception (illegal address) at
 * one base moves on to the next; a timeout is thrown (the device is away and
 * trying further bases would only multiply the wait).
 */
export async function discover(
  link: ModbusLink,
  unitId: number,
  opts: { timeoutMs?: number; bases?: readonly number[] } = {},
): Promise<DiscoveryResult> {
  for (const base of opts.bases ?? SUNSPEC_BASES) {
    let marker: number[];
    try {
      marker = await link.read(unitId, 'holding', base, 2, opts.timeoutMs);
    } catch (err) {
      if (err instanceof ModbusExceptionError) continue;
      throw err;
    }
    if (marker[0] !== SUNS_MARKER[0] || marker[1] !== SUNS_MARKER[1]) continue;
    const models: ModelLocation[] = [];
    let addr = base + 2;
    for (let i = 0; i < MAX_MODELS; i++) {
      const [id, length] = await link.read(unitId, 'holding', addr, 2, opts.timeoutMs);
      if (id === undefined || id === END_MODEL_ID) return { base, models };
      models.push({ id, address: addr, length: length ?? 0 });
      addr += 2 + (length ?? 0);
      if (addr > 0xffff) break;
    }
    throw new SunSpecNotFoundError(`SunSpec map at ${base} has no end marker within ${MAX_MODELS} models`);
  }
  throw new SunSpecNotFoundError(`no SunS marker at ${(opts.bases ?? SUNSPEC_BASES).join(', ')}`);
}

/** Read a whole model block (ID, L and points), so values and scale factors come from one snapshot. */
export async function readModelRegisters(
  link: ModbusLink,
  unitId: number,
  loc: ModelLocation,
  timeoutMs?: number,
): Promise<number[]> {
  const total = loc.length + 2;
  const out: number[] = [];
  for (let off = 0; off < total; off += MAX_READ) {
    const n = Math.min(MAX_READ, total - off);
    out.push(...(await link.read(unitId, 'holding', loc.address + off, n, timeoutMs)));
  }
  return out;
}

export type PointValues = Readonly<Record<string, number | undefined>>;

/**
 * Decode the points of a model block. Scaled points are `raw * 10^sf`;
 * when either the raw value or its scale factor is "not implemented", the
 * point is `undefined`, never a number.
 */
export function decodeModel(model: SunSpecModel, regs: readonly number[]): PointValues {
  const raw: Record<string, number | undefined> = {};
  for (const pt of model.points) {
    if (pt.type === 'string') continue;
    const slice = regs.slice(pt.offset, pt.offset + registerCount(pt.type));
    raw[pt.name] = slice.length < registerCount(pt.type) ? undefined : safeDecode(slice, pt.type);
  }
  const out: Record<string, number | undefined> = {};
  for (const pt of model.points) {
    if (pt.type === 'string') continue;
    const v = raw[pt.name];
    if (!pt.sf) {
      out[pt.name] = v;
      continue;
    }
    const sf = raw[pt.sf];
    out[pt.name] = v === undefined || sf === undefined || sf < -10 || sf > 10 ? undefined : round(v * 10 ** sf);
  }
  return out;
}

export function decodeModelStrings(model: SunSpecModel, regs: readonly number[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pt of model.points) {
    if (pt.type !== 'string') continue;
    out[pt.name] = decodeString(regs.slice(pt.offset, pt.offset + (pt.length ?? 1)));
  }
  return out;
}

export function modelDefinition(id: number): SunSpecModel | undefined {
  return SUNSPEC_MODELS.get(id);
}

function safeDecode(regs: readonly number[], type: Parameters<typeof decodeNumber>[1]): number | undefined {
  try {
    return decodeNumber(regs, type, { sunspecSentinels: true });
  } catch {
    return undefined;
  }
}

/** Removes binary noise from `raw * 10^sf` (e.g. 123 * 0.1 = 12.300000000000001). */
function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
