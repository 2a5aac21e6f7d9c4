import { createRequire } from 'node:module';
import { createValidator } from 'ocpp-rpc';
import type { OcppProtocol } from './protocol.js';

export type Validator = ReturnType<typeof createValidator>;

interface SchemaDoc {
  $id: string;
  [k: string]: unknown;
}

const require = createRequire(import.meta.url);

/**
 * ocpp-rpc looks schemas up as `urn:<Action>.req` / `urn:<Action>.conf`.
 * Its bundled 2.1 file names them `urn:<Action>Request` / `...Response`
 * (the OCA originals), so strict mode would answer every 2.1 call with
 * "schema missing". Re-key them once here; the schema bodies are untouched.
 */
export function rekey21(docs: readonly SchemaDoc[]): SchemaDoc[] {
  const out: SchemaDoc[] = [];
  for (const d of docs) {
    const m = /^urn:(.+?)(Request|Response)$/.exec(d.$id);
    if (!m) continue; // NotifyPeriodicEventStream is a SEND frame without a response: not a CALL.
    out.push({ ...(tidy(d) as SchemaDoc), $id: `urn:${m[1]}.${m[2] === 'Request' ? 'req' : 'conf'}` });
  }
  return out;
}

/**
 * The OCA files put `additionalProperties: false` on string enums, which is
 * meaningless there and makes ajv print a strict-mode warning per schema on
 * the console; drop it from non-object nodes.
 */
function tidy(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(tidy);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  const rec = node as Record<string, unknown>;
  for (const [k, v] of Object.entries(rec)) {
    if (k === 'additionalProperties' && rec.type !== undefined && rec.type !== 'object') continue;
    out[k] = tidy(v);
  }
  return out;
}

// Compiled once per process: the schemas are static and ajv compilation is the expensive part.
let cached: Validator[] | undefined;
let byProtocol: Map<string, Validator> | undefined;

/**
 * Strict validators for every subprotocol the gateway speaks. 1.6 and 2.0.1
 * are ocpp-rpc's own; 2.1 is rebuilt from the bundled OCA schemas and
 * replaces ocpp-rpc's unusable default (later validators win by subprotocol).
 */
export function strictValidators(): Validator[] {
  if (!cached) {
    const docs21 = require('ocpp-rpc/lib/schemas/ocpp2_1.json') as SchemaDoc[];
    cached = [createValidator('ocpp2.1', rekey21(docs21))];
  }
  return cached;
}

/**
 * The validator ocpp-rpc's strict mode uses for a subprotocol (its own 1.6
 * and 2.0.1 schema files, the re-keyed 2.1 set), for frames the gateway
 * sends and matches itself (`rpc/call.ts`).
 */
export function validatorFor(protocol: OcppProtocol): Validator {
  if (!byProtocol) {
    byProtocol = new Map([
      ['ocpp1.6', createValidator('ocpp1.6', require('ocpp-rpc/lib/schemas/ocpp1_6.json') as SchemaDoc[])],
      ['ocpp2.0.1', createValidator('ocpp2.0.1', require('ocpp-rpc/lib/schemas/ocpp2_0_1.json') as SchemaDoc[])],
      ...strictValidators().map((v) => [v.subprotocol, v] as const),
    ]);
  }
  const v = byProtocol.get(protocol);
  if (!v) throw new Error(`no validator for ${protocol}`);
  return v;
}
