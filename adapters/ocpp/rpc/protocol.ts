import { createRequire } from 'node:module';

/**
 * The OCPP-J subprotocols the gateway speaks, newest first so a charger
 * offering several gets the newest one.
 */
export const OCPP_PROTOCOLS = ['ocpp2.1', 'ocpp2.0.1', 'ocpp1.6'] as const;
export type OcppProtocol = (typeof OCPP_PROTOCOLS)[number];

export function isOcppProtocol(p: string | undefined): p is OcppProtocol {
  return p !== undefined && (OCPP_PROTOCOLS as readonly string[]).includes(p);
}

export function isOcpp2(p: OcppProtocol): boolean {
  return p !== 'ocpp1.6';
}

interface SchemaDoc {
  readonly $id: string;
}

const require = createRequire(import.meta.url);

/*
 * The schemas are the ones ocpp-rpc validates with in strict mode (it ships
 * 1.6, 2.0.1 and, since 2.2, 2.1), so the action lists below and the
 * validator can never disagree about which actions exist.
 */
const SCHEMA_FILES: Record<OcppProtocol, string> = {
  'ocpp1.6': 'ocpp-rpc/lib/schemas/ocpp1_6.json',
  'ocpp2.0.1': 'ocpp-rpc/lib/schemas/ocpp2_0_1.json',
  'ocpp2.1': 'ocpp-rpc/lib/schemas/ocpp2_1.json',
};

const actionCache = new Map<OcppProtocol, readonly string[]>();

/** Every action (method name) that has a request schema in a subprotocol. */
export function actionsOf(protocol: OcppProtocol): readonly string[] {
  let list = actionCache.get(protocol);
  if (!list) {
    const docs = require(SCHEMA_FILES[protocol]) as SchemaDoc[];
    // 1.6 and 2.0.1 files name requests `urn:<Action>.req`, the 2.1 file `urn:<Action>Request`.
    list = docs.flatMap((d) => {
      const m = /^urn:(.+?)(?:\.req|Request)$/.exec(d.$id);
      return m?.[1] ? [m[1]] : [];
    });
    actionCache.set(protocol, list);
  }
  return list;
}
