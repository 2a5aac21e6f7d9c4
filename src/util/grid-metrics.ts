import { Counter, Gauge, type Registry } from 'prom-client';
import { sharedMetric } from './metrics.js';

export interface GridMetrics {
  readonly rejected: Counter<'source' | 'field'>;
  readonly accepted: Counter<'source' | 'kind'>;
  readonly fallbackActive: Gauge;
  readonly clockSkewSeconds: Gauge<'source'>;
  readonly sourceUp: Gauge<'source'>;
  readonly requests: Counter<'source' | 'result'>;
}

/**
 * Grid metrics on the gateway's registry. The grid service, the price feed
 * and the grid adapters each ask for them; the registry itself is the one
 * place they live (no module-level cache), so two gateways in one process
 * never share counters.
 */
export function gridMetrics(registry: Registry): GridMetrics {
  const registers = [registry];
  return {
    rejected: sharedMetric(
      registry,
      'gridkeeper_grid_signals_rejected_total',
      (name) =>
        new Counter({
          name,
          help: 'Grid signals or payloads rejected as malformed or unknown, by source and offending field',
          labelNames: ['source', 'field'],
          registers,
        }),
    ),
    accepted: sharedMetric(
      registry,
      'gridkeeper_grid_signals_accepted_total',
      (name) =>
        new Counter({
          name,
          help: 'Grid signals accepted, by source and kind',
          labelNames: ['source', 'kind'],
          registers,
        }),
    ),
    fallbackActive: sharedMetric(
      registry,
      'gridkeeper_grid_fallback_active',
      (name) => new Gauge({ name, help: '1 while the grid fallback (safe-mode) limit applies', registers }),
    ),
    clockSkewSeconds: sharedMetric(
      registry,
      'gridkeeper_grid_clock_skew_seconds',
      (name) =>
        new Gauge({ name, help: 'Clock difference remote minus gateway, seconds', labelNames: ['source'], registers }),
    ),
    sourceUp: sharedMetric(
      registry,
      'gridkeeper_grid_source_up',
      (name) =>
        new Gauge({
          name,
          help: '1 while a grid signal source (VTN, capacity provider) answers',
          labelNames: ['source'],
          registers,
        }),
    ),
    requests: sharedMetric(
      registry,
      'gridkeeper_grid_requests_total',
      (name) =>
        new Counter({
          name,
          help: 'Requests to grid signal sources, by result',
          labelNames: ['source', 'result'],
          registers,
        }),
    ),
  };
}
