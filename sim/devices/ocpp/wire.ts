/**
 * The simulators' own OCPP-J framing (OCPP-J 1.6 §4, 2.0.1 Part 4 §4):
 * CALL [2, id, action, payload], CALLRESULT [3, id, payload] and
 * CALLERROR [4, id, code, description, details]. Deliberately small and
 * written apart from the gateway's RPC layer, so that a framing bug in the
 * gateway is never confirmed by its own simulator. Payloads get a light
 * shape check only (an object), not the gateway's JSON schemas.
 */

export type OcppVersion = 'ocpp1.6' | 'ocpp2.0.1' | 'ocpp2.1';
export const OCPP_VERSIONS: readonly OcppVersion[] = ['ocpp1.6', 'ocpp2.0.1', 'ocpp2.1'];

export type Json = Record<string, unknown>;

export type Frame =
  | { readonly type: 2; readonly id: string; readonly action: string; readonly payload: Json }
  | { readonly type: 3; readonly id: string; readonly payload: Json }
  | {
      readonly type: 4;
      readonly id: string;
      readonly code: string;
      readonly description: string;
      readonly details: Json;
    };

/** A CALLERROR received from, or to be sent to, the other side. */
export class OcppCallError extends Error {
  constructor(
    readonly code: string,
    description = '',
    readonly details: Json = {},
  ) {
    super(description || code);
    this.name = 'OcppCallError';
  }
}

/** Why a frame could not be read, and the id to answer to when one was readable. */
export interface BadFrame {
  readonly bad: true;
  readonly id?: string;
  readonly code: string;
  readonly description: string;
}

const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Parse one text frame; a malformed one yields the CALLERROR code a peer would answer with. */
export function decodeFrame(text: string): Frame | BadFrame {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { bad: true, code: 'RpcFrameworkError', description: 'not JSON' };
  }
  if (!Array.isArray(msg) || typeof msg[1] !== 'string') {
    return { bad: true, code: 'RpcFrameworkError', description: 'not an OCPP-J frame' };
  }
  const id = msg[1];
  switch (msg[0]) {
    case 2:
      if (typeof msg[2] !== 'string') return { bad: true, id, code: 'RpcFrameworkError', description: 'no action' };
      if (!isObject(msg[3])) return { bad: true, id, code: 'FormationViolation', description: 'payload not an object' };
      return { type: 2, id, action: msg[2], payload: msg[3] };
    case 3:
      return isObject(msg[2])
        ? { type: 3, id, payload: msg[2] }
        : { bad: true, id, code: 'FormationViolation', description: 'result not an object' };
    case 4:
      return {
        type: 4,
        id,
        code: String(msg[2] ?? 'GenericError'),
        description: String(msg[3] ?? ''),
        details: isObject(msg[4]) ? msg[4] : {},
      };
    default:
      return { bad: true, id, code: 'MessageTypeNotSupported', description: `message type ${String(msg[0])}` };
  }
}

export function isBad(f: Frame | BadFrame): f is BadFrame {
  return 'bad' in f;
}

export const encodeCall = (id: string, action: string, payload: Json): string =>
  JSON.stringify([2, id, action, payload]);

export const encodeResult = (id: string, payload: Json): string => JSON.stringify([3, id, payload]);

export const encodeError = (id: string, code: string, description: string, details: Json = {}): string =>
  JSON.stringify([4, id, code, description, details]);

/** HTTP Basic credentials as OCPP security profiles 1 and 2 send them (user = charge point id). */
export function basicAuth(id: string, password: string): string {
  return `Basic ${Buffer.from(`${id}:${password}`).toString('base64')}`;
}

/** Parse an `Authorization: Basic` header into id and password. */
export function parseBasicAuth(header: string | undefined): { id: string; password: string } | undefined {
  const m = /^Basic\s+(.+)$/i.exec(header ?? '');
  if (!m?.[1]) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { id: text.slice(0, colon), password: text.slice(colon + 1) };
}
