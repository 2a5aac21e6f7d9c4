import { Counter, Gauge, type Registry } from 'prom-client';

export interface GridMetrics {
  readonly rejected: Counter<'source' | 'field'>;
  readonly accepted: Counter<'source' | 'kind'>;
  readonly fallbackActive: Gauge;
  readonly clockSkewSeconds: Gauge<'source'>;
  readonly sourceUp: Gauge<'source'>;
  readonly requests: Counter<'source' | 'result'>;
}

const cache = new WeakMap<Registry, GridMetrics>();

/** Grid metrics on the gateway's registry; created once per registry however many grid components ask. */
export function gridMetrics(registry: Registry): GridMetrics {
  const hit = cache.get(registry);
  if (hit) return hit;
  const m: GridMetrics = {
    rejected: new Counter({
      name: 'gridkeeper_grid_signals_rejected_total',
      help: 'Grid signals or payloads rejected as malformed or unknown, by source and offending field',
      labelNames: ['source', 'field'],
      registers: [registry],
    }),
    accepted: new Counter({
      name: 'gridkeeper_grid_signals_accepted_total',
      help: 'Grid signals accepted, by source and kind',
      labelNames: ['source', 'kind'],
      registers: [registry],
    }),
    fallbackActive: new Gauge({
      name: 'gridkeeper_grid_fallback_active',
      help: '1 while the grid fallback (safe-mode) limit applies',
      registers: [registry],
    }),
    clockSkewSeconds: new Gauge({
      name: 'gridkeeper_grid_clock_skew_seconds',
      help: 'Clock difference remote minus gateway, seconds',
      labelNames: ['source'],
      registers: [registry],
    }),
    sourceUp: new Gauge({
      name: 'gridkeeper_grid_source_up',
      help: '1 while a grid signal source (VTN, capacity provider) answers',
      labelNames: ['source'],
      registers: [registry],
    }),
    requests: new Counter({
      name: 'gridkeeper_grid_requests_total',
      help: 'Requests to grid signal sources, by result',
      labelNames: ['source', 'result'],
      registers: [registry],
    }),
  };
  cache.set(registry, m);
  return m;
}
