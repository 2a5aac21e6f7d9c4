import type { AddressInfo } from 'node:net';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyError, type FastifyInstance, LogController } from 'fastify';
import { Histogram, type Registry } from 'prom-client';
import type { GatewayContext } from '../context.js';
import type { Integration } from '../integration/index.js';
import { installAuth, type KeyVerifier } from './auth.js';
import { dashboardRoutes } from './dashboard.js';
import { LiveStreams } from './live.js';
import { PROBLEM_CONTENT_TYPE, PROBLEM_DESCRIPTIONS, PROBLEM_TYPES, ProblemError, problem } from './problem.js';
import type { ApiProviders } from './providers.js';
import type { RouteDeps } from './routes/deps.js';
import { alertRoutes } from './routes/alerts.js';
import { deviceRoutes } from './routes/devices.js';
import { eventRoutes } from './routes/events.js';
import { evseRoutes } from './routes/evses.js';
import { gridRoutes } from './routes/grid.js';
import { healthRoutes } from './routes/health.js';
import { historyRoutes } from './routes/history.js';
import { keyRoutes } from './routes/keys.js';
import { ocppRoutes } from './routes/ocpp.js';
import { reportRoutes } from './routes/reports.js';
import { sessionRoutes } from './routes/sessions.js';
import { siteRoutes } from './routes/site.js';
import { stateRoutes } from './routes/state.js';
import { vehicleRoutes } from './routes/vehicles.js';
import { webhookRoutes } from './routes/webhooks.js';
import { installZodValidation, swaggerTransform } from './schema.js';

/** Extra route plugins (the integration layer adds its resources through this). */
export type ApiPlugin = (app: FastifyInstance) => Promise<void>;

export interface ApiServerOptions {
  readonly providers?: ApiProviders;
  /**
   * The integration layer (`createIntegration`). Without it only the core
   * routes exist (/healthz, /metrics, /api/v1/state, OpenAPI, docs).
   */
  readonly integration?: Integration;
  /** Overrides `config.api.port` (0 = any free port, as tests use). */
  readonly port?: number;
  readonly host?: string;
  /** Readiness for `/healthz`; defaults to "the server has started". */
  readonly ready?: () => boolean;
  /** API keys; defaults to the integration's key store. Without any only anonymous access exists. */
  readonly keys?: KeyVerifier;
  /** Route plugins registered after the core routes (integration layer). */
  readonly plugins?: readonly ApiPlugin[];
  /** Called on stop, before the HTTP server closes (end live streams). */
  readonly onStop?: () => Promise<void> | void;
}

export interface ApiServer {
  readonly app: FastifyInstance;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Base URL, e.g. `http://127.0.0.1:8080`; only valid after start(). */
  url(): string;
  /** Mark the gateway ready (or not) for `/healthz`. */
  setReady(ready: boolean): void;
  /** Every route the server answers (method, url), for docs and tests. */
  routes(): ReadonlyArray<{ method: string; url: string; documented: boolean }>;
}

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

function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/**
 * The gateway's HTTP API (fastify 5). Routes are fastify plugins under
 * `routes/`, their zod schemas validate requests and feed the OpenAPI
 * document at `/api/v1/openapi.json`. Every error is RFC 9457 problem+json.
 */
export async function createApiServer(ctx: GatewayContext, opts: ApiServerOptions = {}): Promise<ApiServer> {
  let started = false;
  let ready: boolean | undefined;
  const isReady = () => ready ?? (opts.ready ? opts.ready() : started);

  const app = Fastify({
    loggerInstance: ctx.log.child({ component: 'api' }),
    logController: new LogController({ disableRequestLogging: true }),
    // Live streams are hijacked connections: close them on stop instead of waiting.
    forceCloseConnections: true,
    bodyLimit: 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
  }) as unknown as FastifyInstance; // pino's Logger generic is narrower than FastifyBaseLogger

  const routes: Array<{ method: string; url: string; documented: boolean }> = [];
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const hidden = (r.schema as { hide?: boolean } | undefined)?.hide === true || r.url.startsWith('/docs');
    for (const m of methods) routes.push({ method: String(m), url: r.url, documented: !hidden });
  });
  installZodValidation(app);
  const integration = opts.integration;
  const verifier = opts.keys ?? integration?.keys;
  // Before auth: its onRequest hook marks upgrade requests so a refused upgrade's socket is closed.
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  installAuth(app, { anonymousRead: ctx.config.api.anonymousRead, ...(verifier ? { verifier } : {}) });

  // Why a command failed, for the audit log (set by the error handler).
  const failure = new WeakMap<object, string>();
  if (integration) {
    app.addHook('onResponse', async (req, reply) => {
      const command = req.routeOptions.config?.command;
      if (!command) return;
      const p = req.principal ?? { id: 'anonymous', name: 'anonymous' };
      const ok = reply.statusCode < 400;
      const result = ok ? 'ok' : (failure.get(req) ?? `HTTP ${reply.statusCode}`);
      const path = req.url.split('?')[0] ?? req.url;
      integration.audit.record({
        ts: ctx.clock.now(),
        principalId: p.id,
        principalName: p.name,
        command,
        method: req.method,
        path,
        params: { params: req.params ?? null, body: req.body ?? null },
        status: reply.statusCode,
        result,
      });
      // Who did it stays in the audit log (control scope), not in the stream every reader sees.
      integration.hub.publish('command.executed', { command, path, status: reply.statusCode, result });
    });
  }

  const requestSeconds = metric(
    ctx.metrics,
    'gridkeeper_api_request_seconds',
    () =>
      new Histogram({
        name: 'gridkeeper_api_request_seconds',
        help: 'HTTP API request duration by route and status',
        labelNames: ['method', 'route', 'status'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
        registers: [ctx.metrics],
      }),
  );
  app.addHook('onResponse', async (req, reply) => {
    requestSeconds.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.setErrorHandler((err: FastifyError | ProblemError, req, reply) => {
    let body: ReturnType<typeof problem>;
    if (err instanceof ProblemError) {
      body = err.problem;
    } else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      body = problem(err.statusCode, {
        type: err.statusCode === 400 ? PROBLEM_TYPES.validation : 'about:blank',
        detail: err.message,
      });
    } else {
      req.log.error({ err, url: req.url }, 'request failed');
      body = problem(500, { type: PROBLEM_TYPES.internal, detail: 'internal error; see the gateway log' });
    }
    if (body.status === 401) reply.header('www-authenticate', 'Bearer');
    failure.set(req, body.detail ?? body.title);
    return reply
      .code(body.status)
      .type(PROBLEM_CONTENT_TYPE)
      .serializer((x) => JSON.stringify(x))
      .send({ ...body, instance: req.url.split('?')[0] });
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .type(PROBLEM_CONTENT_TYPE)
      .send(
        problem(404, {
          type: PROBLEM_TYPES.notFound,
          detail: `no route ${req.method} ${req.url.split('?')[0]}`,
          instance: req.url.split('?')[0],
        }),
      ),
  );

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
      if (!integration) return openapiObject;
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
            '401': { description: 'Missing or unknown API key (problem+json)' },
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
      schema: { tags: ['ops'], summary: 'The problem types (RFC 9457) this API answers with, and what they mean' },
    },
    async () =>
      Object.fromEntries(
        Object.entries(PROBLEM_TYPES).map(([k, uri]) => [
          uri.split('#')[1],
          { type: uri, description: PROBLEM_DESCRIPTIONS[k as keyof typeof PROBLEM_TYPES] },
        ]),
      ),
  );
  app.get(
    '/api/v1/openapi.json',
    {
      config: { auth: 'public' },
      schema: { tags: ['ops'], summary: 'This OpenAPI 3.1 document' },
    },
    async () => app.swagger(),
  );

  await app.register(healthRoutes(ctx, { ready: isReady }));
  await app.register(stateRoutes(ctx, integration ? { override: () => integration.siteOverride.active() } : {}));
  let live: LiveStreams | undefined;
  let offGrid: (() => void) | undefined;
  const grid = opts.providers?.grid;
  if (integration && grid?.onChange) {
    // Grid signals change in the grid service; partners see each new or changed event once.
    const seen = new Map<string, string>();
    const publishChanges = () => {
      const now = ctx.clock.now();
      for (const e of grid.events({ from: now - 86_400_000 })) {
        const key = `${e.status}|${e.value ?? ''}|${e.end ?? ''}`;
        if (seen.get(e.id) === key) continue;
        seen.set(e.id, key);
        integration.hub.publish('grid.event', {
          eventId: e.id,
          source: e.source,
          kind: e.kind,
          status: e.status,
          start: new Date(e.start).toISOString(),
          end: e.end !== undefined ? new Date(e.end).toISOString() : null,
          value: e.value ?? null,
          unit: e.unit ?? null,
        });
      }
    };
    for (const e of grid.events({ from: ctx.clock.now() - 86_400_000 }))
      seen.set(e.id, `${e.status}|${e.value ?? ''}|${e.end ?? ''}`);
    offGrid = grid.onChange(publishChanges);
  }
  if (integration) {
    live = new LiveStreams({
      hub: integration.hub,
      clock: ctx.clock,
      clientBufferBytes: ctx.config.api.events.clientBufferBytes,
      heartbeatMs: ctx.config.api.events.heartbeatMs,
      metrics: ctx.metrics,
    });
    const deps: RouteDeps = { ctx, integration, providers: opts.providers ?? {} };
    await app.register(eventRoutes(live));
    await app.register(siteRoutes(deps));
    await app.register(deviceRoutes(deps));
    await app.register(evseRoutes(deps));
    await app.register(sessionRoutes(deps));
    await app.register(vehicleRoutes(deps));
    await app.register(gridRoutes(deps));
    await app.register(alertRoutes(deps));
    await app.register(reportRoutes(deps));
    await app.register(historyRoutes(deps));
    await app.register(keyRoutes(deps));
    await app.register(webhookRoutes(deps));
    await app.register(ocppRoutes(deps));
  }
  if (ctx.config.api.dashboard) await app.register(dashboardRoutes());
  for (const p of opts.plugins ?? []) await app.register(async (sub) => p(sub));

  let address = '';
  return {
    app,
    async start() {
      await app.listen({ host: opts.host ?? ctx.config.api.host, port: opts.port ?? ctx.config.api.port });
      const a = app.server.address() as AddressInfo;
      const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      address = `http://${host}:${a.port}`;
      started = true;
      ctx.log.info({ url: address }, 'HTTP API listening');
    },
    async stop() {
      started = false;
      offGrid?.();
      live?.stop();
      await opts.onStop?.();
      await app.close();
    },
    url() {
      if (!address) throw new Error('API server not started');
      return address;
    },
    setReady(r: boolean) {
      ready = r;
    },
    routes() {
      return routes;
    },
  };
}
