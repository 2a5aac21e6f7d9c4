import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Db } from '../store/db.js';
import { sharedMetric } from '../util/metrics.js';

export interface WebhookMetrics {
  readonly deliveries: Counter<'result'>;
  readonly deadLetters: Counter;
  readonly latency: Histogram;
}

/**
 * The webhook outbox's metrics on the gateway's registry (made once per
 * registry; a restarted service in the same process finds them there). The
 * outbox gauge counts the rows by state when scraped.
 */
export function webhookMetrics(m: Registry, db: Db): WebhookMetrics {
  const deliveries = sharedMetric(
    m,
    'gridkeeper_webhook_deliveries_total',
    () =>
      new Counter({
        name: 'gridkeeper_webhook_deliveries_total',
        help: 'Webhook delivery attempts by result',
        labelNames: ['result'],
        registers: [m],
      }),
  );
  const deadLetters = sharedMetric(
    m,
    'gridkeeper_webhook_dead_letters_total',
    () =>
      new Counter({
        name: 'gridkeeper_webhook_dead_letters_total',
        help: 'Webhook events dead-lettered after exhausting retries',
        registers: [m],
      }),
  );
  const latency = sharedMetric(
    m,
    'gridkeeper_webhook_delivery_seconds',
    () =>
      new Histogram({
        name: 'gridkeeper_webhook_delivery_seconds',
        help: 'Duration of one webhook HTTP attempt',
        buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
        registers: [m],
      }),
  );
  if (!m.getSingleMetric('gridkeeper_webhook_outbox_events')) {
    const countStmt = db.prepare('SELECT state, COUNT(*) AS n FROM webhook_outbox GROUP BY state');
    new Gauge({
      name: 'gridkeeper_webhook_outbox_events',
      help: 'Webhook outbox entries by state (pending, delivered, dead)',
      labelNames: ['state'],
      registers: [m],
      collect() {
        this.reset();
        for (const s of ['pending', 'delivered', 'dead']) this.set({ state: s }, 0);
        for (const r of countStmt.all() as Array<{ state: string; n: number }>) this.set({ state: r.state }, r.n);
      },
    });
  }
  return { deliveries, deadLetters, latency };
}
