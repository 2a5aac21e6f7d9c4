import type { MqttPointConfig } from '../../src/ports/config.js';
import type { PhaseValues } from '../../src/model/site.js';
import { compilePath, getPath } from './json-path.js';

export type DecodedValue = number | PhaseValues;

export type DecodeResult = { ok: true; value: DecodedValue } | { ok: false; error: string };

const UNIT_FACTOR: Record<string, number> = { W: 1, kW: 1000, Wh: 1, kWh: 1000, '%': 1, A: 1 };

/** Turns one configured point into a payload decoder (path compiled once). */
export function pointDecoder(point: MqttPointConfig): (payload: Buffer) => DecodeResult {
  const path = point.jsonPath ? compilePath(point.jsonPath) : undefined;
  const factor = point.scale * (point.unit ? (UNIT_FACTOR[point.unit] ?? 1) : 1);
  const toNumber = (v: unknown): number | undefined => {
    if (typeof v === 'number') return Number.isFinite(v) ? v * factor : undefined;
    if (typeof v === 'string' && v.trim() !== '') {
      const n = Number(v);
      return Number.isFinite(n) ? n * factor : undefined;
    }
    return undefined;
  };

  return (payload) => {
    const text = payload.toString('utf8');
    let raw: unknown = text;
    if (path) {
      try {
        raw = getPath(JSON.parse(text), path);
      } catch {
        return { ok: false, error: 'payload is not JSON' };
      }
      if (raw === undefined) return { ok: false, error: `no value at ${point.jsonPath}` };
    } else if (point.quantity === 'currents') {
      try {
        raw = JSON.parse(text);
      } catch {
        return { ok: false, error: 'payload is not a JSON array' };
      }
    }
    if (point.quantity === 'currents') {
      if (!Array.isArray(raw) || raw.length !== 3) return { ok: false, error: 'expected an array of 3 phase currents' };
      const vals = raw.map(toNumber);
      if (vals.some((v) => v === undefined)) return { ok: false, error: 'phase current is not a number' };
      return { ok: true, value: vals as unknown as PhaseValues };
    }
    const n = toNumber(raw);
    if (n === undefined) return { ok: false, error: `not a number: ${JSON.stringify(raw).slice(0, 40)}` };
    return { ok: true, value: n };
  };
}
