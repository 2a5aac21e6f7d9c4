import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { problemResponse } from './documented-errors.js';
import { PROBLEM_BASE, PROBLEM_DESCRIPTIONS, PROBLEM_TYPES } from './problem.js';
import { swaggerTransform } from './schema.js';

const OpenApiDocument = z.object({ openapi: z.string(), info: z.unknown(), paths: z.unknown() }).loose();

/** The partner guide at the top of the OpenAPI document (and so of /docs). */
const API_GUIDE = `Live site state, sessions, set-points with reasons, vehicles and their needs, grid events,
alerts, reports, commands, webhooks and live events of a gridkeeper depot gateway.

**Access.** Keys travel as \`Authorization: Bearer <key>\` (browsers' EventSource/WebSocket may use
\`?access_token=\`). Scopes: \`read\` (GET), \`control\` (commands, webhooks, audit), \`admin\` (keys); each
implies the ones before. Without a key only \`/healthz\`, this document and the docs answer, unless the
site allows anonymous reads. Every command is written to the audit log (\`GET /api/v1/audit\`).

**Errors** are RFC 9457 \`application/problem+json\`; bad input is 400 with \`errors\` listing every invalid
field (\`path\`, JSON \`pointer\`, \`message\`). Types are explained at \`GET /api/v1/problems\`.

**Live events** (\`GET /api/v1/events\` as SSE, \`/api/v1/ws\` as WebSocket) carry a monotonic \`id\`; reconnect
with \`Last-Event-ID\` (or \`?lastEventId=\`) to receive every retained event you missed. A client that reads
too slowly is told \`resumeAfter\` and disconnected; others are never slowed down.

**Webhooks** (\`POST /api/v1/webhooks {url, events}\` → \`{id, secret}\`) follow Standard Webhooks: body
\`{type, timestamp, data}\`, headers \`webhook-id\` (the event id), \`webhook-timestamp\`,
\`webhook-signature: v1,<base64 HMAC-SHA256>\`; verify with any Standard Webhooks library and the
\`whsec_\` secret. Delivery is at least once and in order per subscription, retried with exponential
back-off for more than 24 h, then dead-lettered (\`GET /api/v1/webhooks/{id}/deliveries?state=dead\`,
\`POST /api/v1/webhooks/{id}/redeliver\`). Deduplicate by \`webhook-id\`.`;

/**
 * The OpenAPI document (generated from the routes' zod schemas) at `/api/v1/openapi.json`, the
 * docs UI at `/docs` and the problem types at `/api/v1/problems`.
 */
export async function registerOpenApi(app: FastifyInstance, o: { readonly liveSocket: boolean }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'gridkeeper API',
        version: '1.0.0',
        description: API_GUIDE,
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API key' } },
      },
      security: [{ bearer: [] }],
    },
    transform: swaggerTransform as never,
    // @fastify/websocket hides upgrade routes from swagger; describe the live socket by hand.
    transformObject: (doc) => {
      if (!('openapiObject' in doc)) return doc.swaggerObject;
      const openapiObject = doc.openapiObject as Record<string, unknown>;
      if (!o.liveSocket) return openapiObject;
      const paths = (openapiObject.paths ?? {}) as Record<string, unknown>;
      paths['/api/v1/ws'] = {
        get: {
          tags: ['events'],
          summary: 'Live events over WebSocket (HTTP upgrade); messages are {id, type, timestamp, data}',
          description:
            'Same events and filters as /api/v1/events; resume with `?lastEventId=`. Browsers may pass the key ' +
            'as `?access_token=`. Messages of type `ping` are flow control; ignore them. A slow client gets `{"type":"overflow","resumeAfter":n}` and close code 1013.',
          parameters: [
            { name: 'types', in: 'query', required: false, schema: { type: 'string' } },
            { name: 'lastEventId', in: 'query', required: false, schema: { type: 'integer', minimum: 0 } },
          ],
          responses: {
            '101': { description: 'Switching Protocols: WebSocket established' },
            '401': problemResponse(401),
            '404': { description: 'Not a WebSocket upgrade request' },
            '429': {
              ...problemResponse(429),
              headers: { 'retry-after': { description: 'Seconds to wait', schema: { type: 'integer' } } },
            },
          },
        },
      };
      return { ...openapiObject, paths };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });

  app.get(
    '/api/v1/problems',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['ops'],
        summary: 'The problem types (RFC 9457) this API answers with, and what they mean',
        response: {
          200: z.record(z.string(), z.object({ type: z.string(), description: z.string() })),
        },
      },
    },
    async () =>
      Object.fromEntries(
        Object.entries(PROBLEM_TYPES).map(([k, uri]) => [
          uri.slice(PROBLEM_BASE.length),
          { type: uri, description: PROBLEM_DESCRIPTIONS[k as keyof typeof PROBLEM_TYPES] },
        ]),
      ),
  );
  app.get(
    '/api/v1/openapi.json',
    {
      config: { auth: 'public' },
      schema: { tags: ['ops'], summary: 'This OpenAPI 3.1 document', response: { 200: OpenApiDocument } },
    },
    async () => app.swagger(),
  );
}
