import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '../../src/model/clock.js';
import type { OcppOutboxCharger } from '../../src/ports/ocpp.js';
import type { LinkStats } from './context.js';
import type { OcppOutbox } from './outbox.js';

/** One charger's outbox for the API and metrics. */
export type OutboxChargerStatus = OcppOutboxCharger;

/** What the proxy's metrics read at scrape time. */
export interface ProxyMetricsSource {
  readonly clock: Clock;
  readonly outbox: OcppOutbox;
  readonly stats: LinkStats;
  chargersConnected(): number;
  upstreamsConnected(): number;
  summary(): OutboxChargerStatus[];
}

/** Counters the proxy increments itself. */
export interface ProxyCounters {
  badFrame(): void;
  refused(reason: string): void;
  /** A socket closed before finishing its WebSocket upgrade (`timeout`) or evicted by the cap (`cap`). */
  handshakeDropped(reason: 'timeout' | 'cap'): void;
}

/** The proxy's Prometheus metrics; gauges and mirrored counters are computed at scrape time. */
export function registerProxyMetrics(registry: Registry | undefined, src: ProxyMetricsSource): ProxyCounters {
  if (!registry) return { badFrame() {}, refused() {}, handshakeDropped() {} };
  const badFrames = new Counter({
    name: 'gridkeeper_ocpp_bad_frames_total',
    help: 'Charger frames answered with a CALLERROR (malformed or schema-invalid)',
    registers: [registry],
  });
  const refused = new Counter({
    name: 'gridkeeper_ocpp_refused_connections_total',
    help: 'Charger connections refused (unknown charger, wrong password, bad path)',
    labelNames: ['reason'],
    registers: [registry],
  });
  new Gauge({
    name: 'gridkeeper_ocpp_chargers_connected',
    help: 'Chargers connected to the OCPP proxy',
    registers: [registry],
    collect() {
      this.set(src.chargersConnected());
    },
  });
  new Gauge({
    name: 'gridkeeper_ocpp_upstream_connected',
    help: 'Charger links whose CMS connection is up',
    registers: [registry],
    collect() {
      this.set(src.upstreamsConnected());
    },
  });
  new Gauge({
    name: 'gridkeeper_ocpp_outbox_messages',
    help: 'Outbox rows by status (pending = not yet delivered to the CMS, poison = parked)',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      const c = src.outbox.counts();
      this.set({ status: 'pending' }, c.pending);
      this.set({ status: 'poison' }, c.poison);
      this.set({ status: 'done' }, c.done);
    },
  });
  registerBacklogGauges(registry, src);
  new Counter({
    name: 'gridkeeper_ocpp_messages_total',
    help: 'Charger calls by outcome (forwarded live, answered locally, replayed from the outbox, parked)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      // The link keeps plain counts; mirror them at scrape time.
      this.reset();
      this.inc({ outcome: 'forwarded' }, src.stats.forwarded);
      this.inc({ outcome: 'local' }, src.stats.answeredLocally);
      this.inc({ outcome: 'replayed' }, src.stats.replayed);
      this.inc({ outcome: 'poisoned' }, src.stats.poisoned);
    },
  });
  new Counter({
    name: 'gridkeeper_ocpp_upstream_connects_total',
    help: 'CMS connections opened (first connect and every reconnect)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(src.stats.upstreamConnects);
    },
  });
  const dropped = new Counter({
    name: 'gridkeeper_ocpp_handshakes_dropped_total',
    help: 'Charger sockets closed before finishing the WebSocket upgrade (timeout: too slow; cap: too many at once)',
    labelNames: ['reason'],
    registers: [registry],
  });
  return {
    badFrame: () => badFrames.inc(),
    refused: (reason) => refused.inc({ reason }),
    handshakeDropped: (reason) => dropped.inc({ reason }),
  };
}

/** Per-charger outbox gauges. */
function registerBacklogGauges(registry: Registry, src: ProxyMetricsSource): void {
  // One grouped query serves the three per-charger gauges of a scrape (they collect in the same tick).
  let backlogTick: OutboxChargerStatus[] | undefined;
  const backlogNow = (): OutboxChargerStatus[] => {
    if (!backlogTick) {
      backlogTick = src.summary();
      queueMicrotask(() => {
        backlogTick = undefined;
      });
    }
    return backlogTick;
  };
  const perCharger = (name: string, help: string, value: (c: OutboxChargerStatus, now: number) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['charger'],
      registers: [registry],
      collect() {
        this.reset();
        const now = src.clock.now();
        for (const c of backlogNow()) this.set({ charger: c.chargerId }, value(c, now));
      },
    });
  perCharger('gridkeeper_ocpp_outbox_pending', 'Messages of a charger waiting for the CMS', (c) => c.pending);
  perCharger(
    'gridkeeper_ocpp_outbox_parked',
    'Messages of a charger the CMS refused for good (poison), kept for an operator to retry',
    (c) => c.parked,
  );
  perCharger(
    'gridkeeper_ocpp_outbox_oldest_pending_seconds',
    'Age of the oldest message of a charger still waiting for the CMS (0 = none)',
    (c, now) => (c.oldestPendingAt !== undefined ? Math.max(0, (now - c.oldestPendingAt) / 1000) : 0),
  );
}
