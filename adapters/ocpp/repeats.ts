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

/**
 * What recognises a charger's repeat of a message it already sent under a
 * new message id (its own retry after a lost answer): the action and the
 * exact content. Only messages that carry a timestamp qualify: two equal
 * messages without one (a 1.6 StatusNotification "Available" twice) can be
 * two events, two equal ones with the same timestamp cannot.
 */
export function contentKey(action: string, payload: Payload): string | undefined {
  const json = stableJson(payload);
  if (!json.includes('"timestamp"')) return undefined;
  return createHash('sha256').update(action).update('\n').update(json).digest('base64url').slice(0, 32);
}
