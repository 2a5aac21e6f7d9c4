import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { SCOPES } from '../auth.js';
import { NO_CONTENT } from '../documented-errors.js';
import { notFound } from '../problem.js';
import { IdParam, Paging, type RouteDeps, iso, paged, rangeQuery, reading, command, zodPlugin } from './deps.js';

const KeyView = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.enum(SCOPES)),
  prefix: z.string(),
  createdAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  source: z.enum(['store', 'config', 'env']),
});

const AuditView = z.object({
  seq: z.number().int(),
  ts: z.string(),
  by: z.object({ id: z.string(), name: z.string() }),
  command: z.string(),
  method: z.string(),
  path: z.string(),
  params: z.unknown(),
  status: z.number().int(),
  result: z.string(),
});

/** API keys (admin) and the command audit log. */
export function keyRoutes({ integration }: RouteDeps): FastifyPluginAsync {
  return zodPlugin((r) => {
    r.get(
      '/api/v1/keys',
      reading(
        'access',
        {
          summary: 'API keys (never the keys themselves)',
          response: { 200: z.array(KeyView) },
        },
        'admin',
      ),
      async () =>
        integration.keys.list().map((k) => ({
          ...k,
          scopes: [...k.scopes],
          createdAt: k.createdAt ? iso(k.createdAt) : null,
          revokedAt: iso(k.revokedAt),
        })),
    );
    r.post(
      '/api/v1/keys',
      command(
        'key.create',
        'access',
        {
          summary: 'Create an API key; the key is shown once in the answer',
          body: z.object({ name: z.string().min(1).max(100), scopes: z.array(z.enum(SCOPES)).min(1) }).strict(),
          response: {
            201: z.object({ id: z.string(), key: z.string(), name: z.string(), scopes: z.array(z.enum(SCOPES)) }),
          },
        },
        'admin',
      ),
      async (req, reply) => {
        const { info, key } = integration.keys.create(req.body.name, req.body.scopes);
        return reply.code(201).send({ id: info.id, key, name: info.name, scopes: [...info.scopes] });
      },
    );
    r.delete(
      '/api/v1/keys/:id',
      command(
        'key.revoke',
        'access',
        { summary: 'Revoke a key at once', params: IdParam, response: NO_CONTENT },
        'admin',
      ),
      async (req, reply) => {
        if (!integration.keys.revoke(req.params.id)) throw notFound(`no active stored key ${req.params.id}`);
        return reply.code(204).send();
      },
    );
    r.get(
      '/api/v1/audit',
      reading(
        'access',
        {
          summary: 'Audit log of every command: who, what, when, result (newest first)',
          querystring: rangeQuery({ ...Paging }),
          response: { 200: paged(AuditView) },
        },
        'control',
      ),
      async (req) => {
        const q = req.query;
        const rows = integration.audit.list({
          limit: q.limit + 1,
          offset: q.offset,
          ...(q.from !== undefined ? { from: q.from } : {}),
          ...(q.to !== undefined ? { to: q.to } : {}),
        });
        return {
          items: rows.slice(0, q.limit).map((a) => ({
            seq: a.seq,
            ts: iso(a.ts) ?? '',
            by: { id: a.principalId, name: a.principalName },
            command: a.command,
            method: a.method,
            path: a.path,
            params: a.params,
            status: a.status,
            result: a.result,
          })),
          limit: q.limit,
          offset: q.offset,
          nextOffset: rows.length > q.limit ? q.offset + q.limit : null,
        };
      },
    );
  });
}
