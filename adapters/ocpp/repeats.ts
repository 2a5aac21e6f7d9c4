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

/**
 * What recognises a charger's repeat of a message it already sent under a
 * new message id (its own retry after a lost answer): the action and the
 * exact content. Only transaction messages with a timestamp qualify; a
 * status that flips and flips back within one timestamp second is two
 * events with equal content, so StatusNotification never does.
 */
export function contentKey(action: string, payload: Payload): string | undefined {
  if (!KEYED.has(action)) return undefined;
  const json = stableJson(payload);
  if (!json.includes('"timestamp"')) return undefined;
  return createHash('sha256').update(action).update('\n').update(json).digest('base64url').slice(0, 32);
}
