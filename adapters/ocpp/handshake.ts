import { timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { ChargerConfig, OcppConfig } from '../../src/ports/config.js';
import { isOcppProtocol } from './rpc/protocol.js';

/** Read a PEM given inline or as a file path. */
export function readPem(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.includes('-----BEGIN')) return value;
  return existsSync(value) ? readFileSync(value, 'utf8') : value;
}

function samePassword(given: Buffer | undefined, expected: string): boolean {
  if (!given) return false;
  const want = Buffer.from(expected, 'utf8');
  return given.length === want.length && timingSafeEqual(given, want);
}

/** The parts of ocpp-rpc's handshake the gateway checks. */
export interface Handshake {
  readonly identity: string;
  readonly endpoint: string;
  readonly protocols: ReadonlySet<string>;
  readonly password?: Buffer;
}

export type HandshakeVerdict =
  | { readonly ok: true; readonly charger?: ChargerConfig }
  | { readonly ok: false; readonly code: number; readonly message: string; readonly reason: string };

/**
 * Whether a charger may connect: the proxy's path, an OCPP subprotocol, a
 * known charger (or `unknownChargers: accept`), and with security profile 1
 * or 2 its Basic-auth password (compared in constant time).
 */
export function checkHandshake(
  h: Handshake,
  o: OcppConfig,
  path: string,
  known: ReadonlyMap<string, ChargerConfig>,
): HandshakeVerdict {
  const fail = (code: number, message: string, reason: string): HandshakeVerdict => ({
    ok: false,
    code,
    message,
    reason,
  });
  if (h.endpoint !== (path || '/')) return fail(404, 'Not found', 'path');
  if (!h.identity) return fail(404, 'Not found', 'identity');
  if (![...h.protocols].some((p) => isOcppProtocol(p)))
    return fail(400, 'No supported OCPP subprotocol', 'subprotocol');
  const charger = known.get(h.identity);
  if (!charger && o.unknownChargers === 'reject') return fail(404, 'Unknown charger', 'unknown');
  if (o.securityProfile >= 1) {
    const expected = charger ? charger.password : o.unknownChargerPassword;
    if (expected === undefined || !samePassword(h.password, expected)) return fail(401, 'Unauthorized', 'password');
  }
  return charger ? { ok: true, charger } : { ok: true };
}

/**
 * ocpp-rpc answers unparsable frames with the 2.0.1 codes `RpcFrameworkError`
 * and `MessageTypeNotSupported`, which OCPP 1.6J does not define; a 1.6
 * charger gets the 1.6 equivalents (`FormationViolation`, `NotSupported`).
 */
export function speak16Errors(client: { sendRaw(message: string): void }): void {
  const send = client.sendRaw.bind(client);
  client.sendRaw = (message: string) => {
    if (typeof message === 'string' && message.startsWith('[4,')) {
      try {
        const frame = JSON.parse(message) as [number, string, string, string, unknown];
        if (frame[2] === 'RpcFrameworkError') frame[2] = 'FormationViolation';
        else if (frame[2] === 'MessageTypeNotSupported') frame[2] = 'NotSupported';
        else return send(message);
        return send(JSON.stringify(frame));
      } catch {
        // not ours to fix
      }
    }
    send(message);
  };
}
