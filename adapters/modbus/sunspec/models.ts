import type { RegisterType } from '../codec.js';
import json from './models.json' with { type: 'json' };

/**
 * SunSpec information models the gateway understands, as data (models.json,
 * in families that share one layout). Offsets are counted from the model's
 * own ID register (ID = 0, L = 1, first point = 2), the way installers read
 * them off a register dump.
 */
export interface SunSpecPoint {
  readonly name: string;
  readonly offset: number;
  readonly type: RegisterType;
  /** Name of the scale-factor point in the same model. */
  readonly sf?: string;
  readonly unit?: string;
  /** Registers, for strings. */
  readonly length?: number;
  readonly writable?: boolean;
}

export interface SunSpecModel {
  readonly id: number;
  readonly name: string;
  /** Value of the L register (registers after ID and L). */
  readonly length: number;
  readonly points: readonly SunSpecPoint[];
}

/** The codec's register types a SunSpec point may have. */
const POINT_TYPES: ReadonlySet<string> = new Set<RegisterType>([
  'int16',
  'uint16',
  'int32',
  'uint32',
  'float32',
  'acc32',
  'sunssf',
  'enum16',
  'bitfield16',
  'bitfield32',
  'string',
]);

type PointExtra = Pick<SunSpecPoint, 'sf' | 'unit' | 'length' | 'writable'>;

/** A row of models.json, [name, offset, type, extra?]; a bad row fails at load, naming model and point. */
function point(model: string, row: ReadonlyArray<unknown>): SunSpecPoint {
  const [name, offset, type, extra] = row;
  if (typeof name !== 'string' || typeof offset !== 'number' || typeof type !== 'string' || !POINT_TYPES.has(type)) {
    throw new Error(`sunspec/models.json: ${model}: bad point ${JSON.stringify(row)}`);
  }
  return { name, offset, type: type as RegisterType, ...(extra as PointExtra | undefined) };
}

export const SUNSPEC_MODELS: ReadonlyMap<number, SunSpecModel> = new Map(
  json.families.flatMap((f) =>
    Object.entries(f.models).map(([id, name]): [number, SunSpecModel] => [
      Number(id),
      { id: Number(id), name, length: f.length, points: f.points.map((r) => point(name, r)) },
    ]),
  ),
);

export const SUNSPEC_BASES = [40000, 0, 50000] as const;
/** "SunS" as two registers. */
export const SUNS_MARKER = [0x5375, 0x6e53] as const;
export const END_MODEL_ID = 0xffff;

export function isInverterModel(id: number): boolean {
  return (id >= 101 && id <= 103) || (id >= 111 && id <= 113);
}

export function isMeterModel(id: number): boolean {
  return id >= 201 && id <= 204;
}
