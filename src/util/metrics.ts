import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One Prometheus registry per gateway instance (no global registry, so two
 * gateways in one test process do not share counters).
 */
export function createMetricsRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true)
    // prom-client's own names already start with process_/nodejs_: one `gridkeeper_` prefix, not two.
    collectDefaultMetrics({ register: registry, prefix: 'gridkeeper_' });
  return registry;
}

/**
 * The registry's metric of that name, made on first use: several components
 * (or a component restarted in the same process) share one series.
 */
export function sharedMetric<T>(registry: Registry, name: string, make: (name: string) => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make(name);
}
