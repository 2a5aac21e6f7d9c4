import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One Prometheus registry per gateway instance (no global registry, so two
 * gateways in one test process do not share counters).
 */
export function createMetricsRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'gridkeeper_process_' });
  return registry;
}
