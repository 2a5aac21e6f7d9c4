import { createHash } from 'node:crypto';
import type { Payload } from './types.js';

/** JSON with object keys sorted, so the same content always gives the same text. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Transaction messages: their content (timestamps, meter readings, 2.x seqNo) names one event. */
const KEYED = new Set(['StartTransaction', 'StopTransaction', 'MeterValues', 'TransactionEvent']);

/** Prefix of a status key: `sn:<connector>:` (1.6 connectorId; 2.x evseId/connectorId), then the content hash. */
export const STATUS_KEY = 'sn:';

/**
 * What recognises a charger's repeat of a message it already sent under a
 * new message id (its own retry after a lost answer): the action and the
 * exact content, timestamp included (without one, no message is a repeat).
 *
 * Transaction messages (start, stop, meter values, 2.x events) name one
 * event each: the same content is the same message, whenever it was
 * recorded. A StatusNotification only states what a connector is now, and
 * a status that flips and flips back within one timestamp second is two
 * events with equal content. So a status is a repeat only of the latest
 * status recorded for its connector (the key carries the connector, the
 * outbox compares with that one row): Available, Charging, Available in one
 * second are three messages, while Available repeated with nothing between
 * is the charger's retry. Answering that from the record is safe even when
 * the charger really meant it twice: the CMS already has exactly this state
 * at this time as the latest for the connector, so it learns nothing from a
 * second copy.
 */
export function contentKey(action: string, payload: Payload): string | undefined {
  const status = action === 'StatusNotification';
  if (!status && !KEYED.has(action)) return undefined;
  const json = stableJson(payload);
  if (!json.includes('"timestamp"')) return undefined;
  const hash = createHash('sha256').update(action).update('\n').update(json).digest('base64url').slice(0, 32);
  if (!status) return hash;
  const connector = 'evseId' in payload ? `${payload.evseId}/${payload.connectorId}` : String(payload.connectorId);
  return `${STATUS_KEY}${connector}:${hash}`;
}

/** `[from, to)` of the keys of one connector's statuses (`key` is a status key). */
export function statusKeyRange(key: string): readonly [string, string] {
  const from = key.slice(0, key.indexOf(':', STATUS_KEY.length) + 1);
  // ';' follows ':' in code-point order: every key that starts with `from` sorts before `to`.
  return [from, `${from.slice(0, -1)};`];
}
