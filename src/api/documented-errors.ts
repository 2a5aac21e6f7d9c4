import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  PROBLEM_CONTENT_TYPE,
  PROBLEM_DESCRIPTIONS,
  PROBLEM_TYPES,
  type ProblemKind,
  TYPE_BY_STATUS,
} from './problem.js';
import { toJsonSchema } from './schema.js';

const FieldErrorSchema = z.object({ in: z.string(), path: z.string(), pointer: z.string(), message: z.string() });

/** RFC 9457 problem details as this API sends them (extension members allowed). */
export const ProblemSchema = z
  .object({
    type: z.string().describe('A URI under https://gridkeeper.dev/problems/ (listed at GET /api/v1/problems)'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    errors: z.array(FieldErrorSchema).optional(),
  })
  .loose();

const PROBLEM_JSON_SCHEMA = toJsonSchema(ProblemSchema, 'output');

function describe(status: number): string {
  const uri = TYPE_BY_STATUS[status];
  const kind = (Object.keys(PROBLEM_TYPES) as ProblemKind[]).find((k) => PROBLEM_TYPES[k] === uri);
  return kind ? `${PROBLEM_DESCRIPTIONS[kind]} (${uri})` : 'Error (problem+json)';
}

/** The OpenAPI response object of a problem answer with this status. */
export function problemResponse(status: number): Record<string, unknown> {
  return {
    description: describe(status),
    ...(status === 429
      ? { headers: { 'retry-after': { type: 'integer', description: 'Seconds until the client may try again' } } }
      : {}),
    content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_JSON_SCHEMA } },
  };
}

/** Route-specific problem answers, for a route's `schema.response` (e.g. `...problems(409, 503)`). */
export function problems(...statuses: number[]): Record<number, Record<string, unknown>> {
  return Object.fromEntries(statuses.map((s) => [s, problemResponse(s)]));
}

/**
 * Every route documents the 4xx answers the server's own machinery can give it, so the OpenAPI
 * document never hides one: 401 and 429 wherever a key is checked, 403 where a scope above
 * `read` is needed, 400 where input is validated, 404 where the path names a resource, 413 and
 * 415 where a body is read. Answers only a handler gives (409, 503, ...) the route adds itself
 * with `problems()`.
 */
export function installErrorDocs(app: FastifyInstance): void {
  app.addHook('onRoute', (r) => {
    const schema = (r.schema ?? {}) as Record<string, unknown>;
    if (schema.hide === true || r.url.startsWith('/docs')) return;
    const auth = r.config?.auth ?? 'read';
    const codes: number[] = [];
    if (auth !== 'peer') codes.push(401, 429);
    if (auth === 'control' || auth === 'admin') codes.push(403);
    if (schema.params || schema.querystring || schema.body) codes.push(400);
    if (r.url.includes(':')) codes.push(404);
    if (schema.body) codes.push(413, 415);
    const response = { ...((schema.response as Record<string, unknown> | undefined) ?? {}) };
    for (const c of codes) response[c] ??= problemResponse(c);
    // A page or asset route without a response schema still says how it succeeds (as what it produces).
    if (!Object.keys(response).some((c) => /^[123]/.test(c))) {
      const types = (schema.produces as string[] | undefined) ?? ['*/*'];
      response[200] = {
        description: 'Success',
        content: Object.fromEntries(types.map((t) => [t, { schema: { type: 'string' } }])),
      };
    }
    r.schema = { ...schema, response };
  });
}

/** The success answer of a route that answers 204 without a body. */
export const NO_CONTENT = { 204: { description: 'Done; no body', type: 'null' } } as const;
