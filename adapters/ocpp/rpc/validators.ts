import { createRequire } from 'node:module';
import { createValidator } from 'ocpp-rpc';

type Validator = ReturnType<typeof createValidator>;

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

let cached: Validator[] | undefined;

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
