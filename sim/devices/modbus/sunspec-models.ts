import json from './maps/sunspec-models.json' with { type: 'json' };
import { SIM_REGISTER_TYPES, type SimRegisterType } from './registers.js';

/**
 * The SunSpec models the simulated devices implement, written from the
 * SunSpec Information Model tables (maps/sunspec-models.json; offsets
 * counted from the model's ID register: ID = 0, L = 1, first point = 2).
 * Only what a simulated device carries is listed; every other register of
 * the model reads as 0, the listed ones start "not implemented" until the
 * device fills them.
 */
export interface SimSunSpecPoint {
  readonly name: string;
  readonly offset: number;
  readonly type: SimRegisterType;
  /** Scale-factor point in the same model. */
  readonly sf?: string;
  /** Registers, for strings. */
  readonly length?: number;
  readonly writable?: boolean;
}

export interface SimSunSpecModel {
  readonly id: number;
  /** The L register: registers after ID and L. */
  readonly length: number;
  readonly points: readonly SimSunSpecPoint[];
}

const TYPES: ReadonlySet<string> = new Set(SIM_REGISTER_TYPES);

/** A row is [name, offset, type] plus the scale-factor point, or the length of a string. */
function point(modelId: number, row: ReadonlyArray<string | number>, writable: ReadonlySet<string>): SimSunSpecPoint {
  const [name, offset, type, extra] = row;
  if (typeof name !== 'string' || typeof offset !== 'number' || typeof type !== 'string' || !TYPES.has(type)) {
    throw new Error(`sunspec-models.json: model ${modelId}: bad point ${JSON.stringify(row)}`);
  }
  return {
    name,
    offset,
    type: type as SimRegisterType,
    ...(typeof extra === 'string' ? { sf: extra } : {}),
    ...(typeof extra === 'number' ? { length: extra } : {}),
    ...(writable.has(name) ? { writable: true } : {}),
  };
}

export const SIM_SUNSPEC_MODELS: ReadonlyMap<number, SimSunSpecModel> = new Map(
  json.models.map((m) => {
    const writable = new Set(m.writable);
    return [m.id, { id: m.id, length: m.length, points: m.points.map((r) => point(m.id, r, writable)) }];
  }),
);
