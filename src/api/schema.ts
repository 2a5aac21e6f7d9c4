import type { FastifyInstance, FastifyRequest, FastifyTypeProvider } from 'fastify';
import { type ZodType, z } from 'zod';
import { type FieldError, badRequest } from './problem.js';

/**
 * zod schemas are the single source of every route's input and output:
 * requests are validated with them here (all parts at once, so a client sees
 * every invalid field in one answer) and the OpenAPI document is generated
 * from them with `z.toJSONSchema`.
 */
export interface ZodTypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends ZodType ? z.output<this['schema']> : unknown;
  serializer: this['schema'] extends ZodType ? z.input<this['schema']> : unknown;
}

export function isZod(s: unknown): s is ZodType {
  return typeof s === 'object' && s !== null && '_zod' in s;
}

const PARTS = ['params', 'querystring', 'body', 'headers'] as const;
type Part = (typeof PARTS)[number];

function pointerOf(path: readonly PropertyKey[]): string {
  return path.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

function dotted(part: string, path: readonly PropertyKey[]): string {
  let out = part;
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : `.${String(seg)}`;
  return out;
}

export function zodIssuesToFieldErrors(part: string, issues: readonly z.core.$ZodIssue[]): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        out.push({ in: part, path: dotted(part, path), pointer: pointerOf(path), message: 'unknown field' });
      }
      continue;
    }
    out.push({
      in: part,
      path: dotted(part, issue.path),
      pointer: pointerOf(issue.path),
      message: issue.message.replace(/^Invalid input: /, ''),
    });
  }
  return out;
}

/** Query parameters handled by the server itself, never by a route schema. */
const RESERVED_QUERY = new Set(['access_token']);

function partData(req: FastifyRequest, part: Part): unknown {
  switch (part) {
    case 'params':
      return req.params ?? {};
    case 'querystring': {
      const q = { ...((req.query as Record<string, unknown> | undefined) ?? {}) };
      for (const k of RESERVED_QUERY) delete q[k];
      return q;
    }
    case 'body':
      return req.body;
    case 'headers':
      return req.headers;
  }
}

function assign(req: FastifyRequest, part: Part, value: unknown): void {
  const r = req as unknown as Record<string, unknown>;
  if (part === 'querystring') r.query = value;
  else if (part !== 'headers') r[part] = value;
}

/** Install zod validation for every route that declares zod schemas. */
export function installZodValidation(app: FastifyInstance): void {
  // Fastify's own validation step becomes a no-op: the hook below did the work.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.addHook('preValidation', async (req) => {
    const schema = req.routeOptions.schema as Partial<Record<Part, unknown>> | undefined;
    if (!schema) return;
    const errors: FieldError[] = [];
    for (const part of PARTS) {
      const s = schema[part];
      if (!isZod(s)) continue;
      const r = s.safeParse(partData(req, part));
      if (r.success) assign(req, part, r.data);
      else errors.push(...zodIssuesToFieldErrors(part, r.error.issues));
    }
    if (errors.length > 0) {
      throw badRequest(`${errors.length} invalid field${errors.length === 1 ? '' : 's'}`, errors);
    }
  });
}

/** JSON Schema (2020-12, as OpenAPI 3.1 uses) of a zod schema; other values pass through. */
export function toJsonSchema(s: unknown, io: 'input' | 'output'): unknown {
  if (!isZod(s)) return s;
  const js = z.toJSONSchema(s, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete js.$schema;
  return js;
}

/** `@fastify/swagger` transform: route schemas to JSON Schema. */
export function swaggerTransform({ schema, url }: { schema: Record<string, unknown> | undefined; url: string }): {
  schema: Record<string, unknown>;
  url: string;
} {
  if (!schema) return { schema: {}, url };
  const out: Record<string, unknown> = { ...schema };
  for (const part of ['params', 'querystring', 'body', 'headers'] as const) {
    if (schema[part] !== undefined) out[part] = toJsonSchema(schema[part], 'input');
  }
  const response = schema.response as Record<string, unknown> | undefined;
  if (response) {
    const r: Record<string, unknown> = {};
    for (const [code, s] of Object.entries(response)) r[code] = toJsonSchema(s, 'output');
    out.response = r;
  }
  return { schema: out, url };
}

// Shared schema building blocks.

/** Epoch ms or an ISO 8601 string, normalised to epoch ms. */
export const TimeParam = z
  .union([z.coerce.number().int().nonnegative(), z.iso.datetime({ offset: true }).transform((s) => Date.parse(s))])
  .describe('Epoch milliseconds or ISO 8601 date-time');
