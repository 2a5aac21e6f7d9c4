import * as crypto from 'node:crypto';
import type { Payload } from './types.js';

/**
 * JSON with object keys sorted, so the same content always gives the same text. It runs on every queued
 * message (most of them MeterValues), so it builds one string instead of arrays per object; the text is
 * the same as the earlier map/sort/join version, so keys recorded before still match.
 */
function stableJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i > 0 ? ',' : '') + stableJson(v[i]);
    return `${s}]`;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  sortKeys(keys);
  let s = '{';
  let first = true;
  for (const k of keys) {
    const x = o[k];
    if (x === undefined) continue;
    s += `${first ? '' : ','}${JSON.stringify(k)}:${stableJson(x)}`;
    first = false;
  }
  return `${s}}`;
}

/**
 * In place, in code-unit order like `Array.prototype.sort()`: insertion sort, because an object of an OCPP
 * payload has a handful of keys, mostly in order already, and the built-in sort allocates on each call.
 */
function sortKeys(keys: string[]): void {
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > k) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = k;
  }
}

/** sha256, base64url: the one-shot `crypto.hash` where Node has it (20.12+), else a Hash object. */
function digest(text: string): string {
  const oneShot = (crypto as { hash?: (alg: string, data: string, enc: string) => string }).hash;
  return oneShot ? oneShot('sha256', text, 'base64url') : crypto.createHash('sha256').update(text).digest('base64url');
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
  const hash = digest(`${action}\n${json}`).slice(0, 32);
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
