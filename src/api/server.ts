import type { AddressInfo } from 'node:net';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { GatewayContext } from '../context.js';
import type { Integration } from '../integration/index.js';
import { installAuth, type KeyVerifier } from './auth.js';
import { dashboardRoutes } from './dashboard.js';
import { trackLoadReadings } from './last-heard.js';
import { LiveStreams } from './live.js';
import { installErrorDocs } from './documented-errors.js';
import { installProblemHandlers } from './errors.js';
import { publishGridEvents } from './grid-events.js';
import { installCommandAudit, installRequestMetrics } from './hooks.js';
import { registerOpenApi } from './openapi.js';
import type { ApiProviders } from './providers.js';
import type { RouteDeps } from './routes/deps.js';
import { alertAckRoutes } from './routes/alert-acks.js';
import { alertRoutes } from './routes/alerts.js';
import { deviceRoutes } from './routes/devices.js';
import { eventRoutes } from './routes/events.js';
import { faviconRoutes } from './routes/favicon.js';
import { evseRoutes } from './routes/evses.js';
import { fleetPlanRoutes } from './routes/fleet-plan.js';
import { gridRoutes } from './routes/grid.js';
import { healthRoutes } from './routes/health.js';
import { historyRoutes } from './routes/history.js';
import { keyRoutes } from './routes/keys.js';
import { ocppRoutes } from './routes/ocpp.js';
import { operatorRoutes } from './routes/operator.js';
import { priceRoutes } from './routes/prices.js';
import { reportRoutes } from './routes/reports.js';
import { sessionRoutes } from './routes/sessions.js';
import { siteRoutes } from './routes/site.js';
import { stateRoutes } from './routes/state-route.js';
import { vehicleRoutes } from './routes/vehicles.js';
import { webhookRoutes } from './routes/webhooks.js';
import { installZodValidation } from './schema.js';

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
  installErrorDocs(app);
  const integration = opts.integration;
  const verifier = opts.keys ?? integration?.keys;
  // Before auth: its onRequest hook marks upgrade requests so a refused upgrade's socket is closed.
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  await installAuth(app, { anonymousRead: ctx.config.api.anonymousRead, ...(verifier ? { verifier } : {}) });

  // Why a command failed, for the audit log (set by the error handler).
  const failure = new WeakMap<object, string>();
  if (integration) installCommandAudit(app, { clock: ctx.clock, integration, failure });
  installRequestMetrics(app, ctx.metrics);
  installProblemHandlers(app, failure);
  await registerOpenApi(app, { liveSocket: integration !== undefined });

  await app.register(healthRoutes(ctx, { ready: isReady }));
  await app.register(faviconRoutes());
  const loads = trackLoadReadings(ctx.bus);
  await app.register(
    stateRoutes(ctx, {
      heard: loads.at,
      ...(integration ? { override: () => integration.siteOverride.active() } : {}),
    }),
  );
  let live: LiveStreams | undefined;
  const grid = opts.providers?.grid;
  // Grid signals change in the grid service; partners see each new or changed event once.
  const onGridChange = grid?.onChange;
  const offGrid =
    integration && grid && onGridChange
      ? publishGridEvents(grid, (l) => onGridChange.call(grid, l), integration.hub, ctx.clock)
      : undefined;
  if (integration) {
    live = new LiveStreams({
      hub: integration.hub,
      clock: ctx.clock,
      clientBufferBytes: ctx.config.api.events.clientBufferBytes,
      heartbeatMs: ctx.config.api.events.heartbeatMs,
      metrics: ctx.metrics,
    });
    const deps: RouteDeps = { ctx, integration, providers: opts.providers ?? {}, heard: loads.at };
    await app.register(eventRoutes(live));
    // One plugin per resource, in the order of the OpenAPI document.
    const resources = [
      siteRoutes,
      deviceRoutes,
      evseRoutes,
      operatorRoutes,
      sessionRoutes,
      vehicleRoutes,
      fleetPlanRoutes,
      gridRoutes,
      priceRoutes,
      alertRoutes,
      alertAckRoutes,
      reportRoutes,
      historyRoutes,
      keyRoutes,
      webhookRoutes,
      ocppRoutes,
    ];
    for (const routes of resources) await app.register(routes(deps));
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
      loads.stop();
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
