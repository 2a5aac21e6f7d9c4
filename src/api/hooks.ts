import type { FastifyInstance } from 'fastify';
import { Histogram, type Registry } from 'prom-client';
import type { Integration } from '../integration/index.js';
import type { Clock } from '../model/clock.js';
import { sharedMetric } from '../util/metrics.js';

export interface CommandAuditOptions {
  readonly clock: Clock;
  readonly integration: Pick<Integration, 'audit' | 'hub'>;
  /** Why a command failed, set by the error handler (`installProblemHandlers`). */
  readonly failure: WeakMap<object, string>;
}

/** Every request to a command route (`config.command`) goes to the audit log and the event stream. */
export function installCommandAudit(app: FastifyInstance, o: CommandAuditOptions): void {
  app.addHook('onResponse', async (req, reply) => {
    const command = req.routeOptions.config?.command;
    if (!command) return;
    const p = req.principal ?? { id: 'anonymous', name: 'anonymous' };
    const ok = reply.statusCode < 400;
    const result = ok ? 'ok' : (o.failure.get(req) ?? `HTTP ${reply.statusCode}`);
    const path = req.url.split('?')[0] ?? req.url;
    o.integration.audit.record({
      ts: o.clock.now(),
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
    o.integration.hub.publish('command.executed', { command, path, status: reply.statusCode, result });
  });
}

/** Request duration by route and status on the gateway's registry. */
export function installRequestMetrics(app: FastifyInstance, metrics: Registry): void {
  const requestSeconds = sharedMetric(
    metrics,
    'gridkeeper_api_request_seconds',
    () =>
      new Histogram({
        name: 'gridkeeper_api_request_seconds',
        help: 'HTTP API request duration by route and status',
        labelNames: ['method', 'route', 'status'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
        registers: [metrics],
      }),
  );
  app.addHook('onResponse', async (req, reply) => {
    requestSeconds.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
}
