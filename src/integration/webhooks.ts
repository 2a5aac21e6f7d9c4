import { randomBytes, randomUUID } from 'node:crypto';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { Webhook } from 'standardwebhooks';
import type { WebhookConfig } from '../config/sections/integration.js';
import type { Clock, TimerHandle } from '../model/clock.js';
import type { Db } from '../store/db.js';
import type { Logger } from '../util/logger.js';
import { type EventHub, type HubEvent, eventBody, matchesAny } from './events.js';

export interface WebhookDeliveryOptions {
  readonly timeoutMs: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly deadAfterMs: number;
  readonly keepDeliveredMs: number;
}

export interface WebhookSubscription {
  readonly id: string;
  readonly url: string;
  readonly events: readonly string[];
  readonly source: 'api' | 'config';
  readonly createdAt: number;
}

export interface WebhookStats {
  readonly pending: number;
  readonly delivered: number;
  readonly dead: number;
  readonly lastError: string | null;
  readonly lastDeliveredAt: number | null;
}

export interface DeliveryRecord {
  readonly seq: number;
  readonly eventId: number;
  readonly type: string;
  readonly state: 'pending' | 'delivered' | 'dead';
  readonly attempts: number;
  readonly createdAt: number;
  readonly nextAt: number;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly doneAt: number | null;
}

interface SubRow {
  id: string;
  url: string;
  events_json: string;
  secret: string;
  source: 'api' | 'config';
  created_at: number;
}

interface OutboxRow {
  seq: number;
  sub_id: string;
  event_id: number;
  type: string;
  body: string;
  created_at: number;
  attempts: number;
  next_at: number;
  state: DeliveryRecord['state'];
  last_status: number | null;
  last_error: string | null;
  done_at: number | null;
}

interface Worker {
  running: boolean;
  timer?: TimerHandle;
}

export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface WebhookServiceOptions {
  readonly db: Db;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Registry;
  readonly hub: EventHub;
  readonly delivery: WebhookDeliveryOptions;
  readonly config?: readonly WebhookConfig[];
  /** Called when an event is dead-lettered (alerts). */
  readonly onDead?: (sub: WebhookSubscription, record: DeliveryRecord) => void;
}

/**
 * Webhooks per the Standard Webhooks convention, from a durable SQLite
 * outbox: an event is written to the outbox of every matching subscription
 * the moment it happens, then delivered in order per subscription (only the
 * head of each queue is in flight), at least once, with exponential back-off
 * until `deadAfterMs`, after which it is dead-lettered and the next one goes.
 * Delivery runs on its own promises: it never blocks the hub or the loop.
 */
export class WebhookService {
  private readonly subs = new Map<string, WebhookSubscription & { signer: Webhook }>();
  private readonly workers = new Map<string, Worker>();
  private readonly inFlight = new Set<Promise<void>>();
  private unsubscribe?: () => void;
  private pruneTimer?: TimerHandle;
  private stopped = true;
  private abort = new AbortController();
  private readonly stmts;
  private readonly deliveries: Counter<'result'>;
  private readonly deadLetters: Counter;
  private readonly latency: Histogram;

  constructor(private readonly opts: WebhookServiceOptions) {
    const { db } = opts;
    this.stmts = {
      head: db.prepare("SELECT * FROM webhook_outbox WHERE sub_id = ? AND state = 'pending' ORDER BY seq LIMIT 1"),
      insert: db.prepare(
        `INSERT INTO webhook_outbox (sub_id, event_id, type, body, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      delivered: db.prepare(
        "UPDATE webhook_outbox SET state = 'delivered', attempts = attempts + 1, last_status = ?, last_error = NULL, done_at = ? WHERE seq = ?",
      ),
      retry: db.prepare(
        'UPDATE webhook_outbox SET attempts = attempts + 1, next_at = ?, last_status = ?, last_error = ? WHERE seq = ?',
      ),
      dead: db.prepare(
        "UPDATE webhook_outbox SET state = 'dead', attempts = attempts + 1, last_status = ?, last_error = ?, done_at = ? WHERE seq = ?",
      ),
    };
    const m = opts.metrics;
    const get = <T>(name: string, make: () => T): T => (m.getSingleMetric(name) as T | undefined) ?? make();
    this.deliveries = get(
      'gridkeeper_webhook_deliveries_total',
      () =>
        new Counter({
          name: 'gridkeeper_webhook_deliveries_total',
          help: 'Webhook delivery attempts by result',
          labelNames: ['result'],
          registers: [m],
        }),
    );
    this.deadLetters = get(
      'gridkeeper_webhook_dead_letters_total',
      () =>
        new Counter({
          name: 'gridkeeper_webhook_dead_letters_total',
          help: 'Webhook events dead-lettered after exhausting retries',
          registers: [m],
        }),
    );
    this.latency = get(
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
    this.load();
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.abort = new AbortController();
    this.unsubscribe = this.opts.hub.subscribe((e) => this.enqueue(e));
    this.pruneTimer = this.opts.clock.setInterval(() => this.prune(), 3_600_000);
    // Whatever was pending before a restart goes out now, in order.
    for (const id of this.subs.keys()) this.wake(id);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.opts.clock.clearInterval(this.pruneTimer);
    for (const w of this.workers.values()) this.opts.clock.clearTimeout(w.timer);
    this.abort.abort();
    await Promise.allSettled([...this.inFlight]);
  }

  list(): WebhookSubscription[] {
    return [...this.subs.values()].map(({ signer: _s, ...rest }) => rest);
  }

  get(id: string): WebhookSubscription | undefined {
    const s = this.subs.get(id);
    if (!s) return undefined;
    const { signer: _s, ...rest } = s;
    return rest;
  }

  create(input: { url: string; events: readonly string[]; secret?: string }): WebhookSubscription & { secret: string } {
    const secret = input.secret ?? generateWebhookSecret();
    const id = `wh_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    const createdAt = this.opts.clock.now();
    this.opts.db
      .prepare('INSERT INTO webhook_subs (id, url, events_json, secret, source, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(id, input.url, JSON.stringify(input.events), secret, 'api', createdAt);
    const sub: WebhookSubscription = { id, url: input.url, events: [...input.events], source: 'api', createdAt };
    this.subs.set(id, { ...sub, signer: new Webhook(secret) });
    return { ...sub, secret };
  }

  /** Delete an API subscription (its pending events are dropped). */
  remove(id: string): 'ok' | 'not-found' | 'config' {
    const s = this.subs.get(id);
    if (!s) return 'not-found';
    if (s.source === 'config') return 'config';
    this.subs.delete(id);
    const w = this.workers.get(id);
    if (w) this.opts.clock.clearTimeout(w.timer);
    this.workers.delete(id);
    this.opts.db.transaction(() => {
      this.opts.db.prepare('UPDATE webhook_subs SET deleted_at = ? WHERE id = ?').run(this.opts.clock.now(), id);
      this.opts.db.prepare('DELETE FROM webhook_outbox WHERE sub_id = ?').run(id);
    })();
    return 'ok';
  }

  stats(id: string): WebhookStats {
    const rows = this.opts.db
      .prepare('SELECT state, COUNT(*) AS n FROM webhook_outbox WHERE sub_id = ? GROUP BY state')
      .all(id) as Array<{ state: string; n: number }>;
    const by = Object.fromEntries(rows.map((r) => [r.state, r.n]));
    const last = this.opts.db
      .prepare(
        'SELECT last_error FROM webhook_outbox WHERE sub_id = ? AND last_error IS NOT NULL ORDER BY seq DESC LIMIT 1',
      )
      .get(id) as { last_error: string } | undefined;
    const lastOk = this.opts.db
      .prepare("SELECT MAX(done_at) AS t FROM webhook_outbox WHERE sub_id = ? AND state = 'delivered'")
      .get(id) as { t: number | null };
    return {
      pending: by.pending ?? 0,
      delivered: by.delivered ?? 0,
      dead: by.dead ?? 0,
      lastError: last?.last_error ?? null,
      lastDeliveredAt: lastOk.t,
    };
  }

  /** Total pending entries over all subscriptions (backlog alert). */
  backlog(): number {
    return (
      this.opts.db.prepare("SELECT COUNT(*) AS n FROM webhook_outbox WHERE state = 'pending'").get() as { n: number }
    ).n;
  }

  deliveryLog(
    id: string,
    q: { state?: DeliveryRecord['state']; limit?: number; afterSeq?: number } = {},
  ): DeliveryRecord[] {
    const rows = this.opts.db
      .prepare(
        `SELECT * FROM webhook_outbox WHERE sub_id = @id AND seq > @after ${q.state ? 'AND state = @state' : ''}
         ORDER BY seq LIMIT @limit`,
      )
      .all({
        id,
        after: q.afterSeq ?? 0,
        limit: q.limit ?? 100,
        ...(q.state ? { state: q.state } : {}),
      }) as OutboxRow[];
    return rows.map(toRecord);
  }

  /**
   * Queue events again: the given event ids, or every dead one when none are
   * given, or everything from `fromEventId` on. They keep their original
   * order and go out ahead of newer events.
   */
  redeliver(id: string, q: { eventIds?: readonly number[]; fromEventId?: number }): number {
    if (!this.subs.has(id)) return 0;
    const now = this.opts.clock.now();
    let changes = 0;
    const db = this.opts.db;
    db.transaction(() => {
      if (q.eventIds && q.eventIds.length > 0) {
        const stmt = db.prepare(
          "UPDATE webhook_outbox SET state = 'pending', next_at = ?, created_at = ?, attempts = 0, done_at = NULL WHERE sub_id = ? AND event_id = ?",
        );
        for (const e of q.eventIds) changes += stmt.run(now, now, id, e).changes;
      } else if (q.fromEventId !== undefined) {
        changes = db
          .prepare(
            "UPDATE webhook_outbox SET state = 'pending', next_at = ?, created_at = ?, attempts = 0, done_at = NULL WHERE sub_id = ? AND event_id >= ?",
          )
          .run(now, now, id, q.fromEventId).changes;
      } else {
        changes = db
          .prepare(
            "UPDATE webhook_outbox SET state = 'pending', next_at = ?, created_at = ?, attempts = 0, done_at = NULL WHERE sub_id = ? AND state = 'dead'",
          )
          .run(now, now, id).changes;
      }
    })();
    if (changes > 0) this.wake(id, true);
    return changes;
  }

  private load(): void {
    const db = this.opts.db;
    const now = this.opts.clock.now();
    db.transaction(() => {
      const configIds = new Set<string>();
      for (const c of this.opts.config ?? []) {
        configIds.add(c.id);
        db.prepare(
          `INSERT INTO webhook_subs (id, url, events_json, secret, source, created_at) VALUES (?, ?, ?, ?, 'config', ?)
           ON CONFLICT(id) DO UPDATE SET url = excluded.url, events_json = excluded.events_json,
           secret = excluded.secret, source = 'config', deleted_at = NULL`,
        ).run(c.id, c.url, JSON.stringify(c.events), c.secret, now);
      }
      // A subscription removed from the config file stops receiving events.
      for (const r of db
        .prepare("SELECT id FROM webhook_subs WHERE source = 'config' AND deleted_at IS NULL")
        .all() as Array<{
        id: string;
      }>) {
        if (!configIds.has(r.id)) db.prepare('UPDATE webhook_subs SET deleted_at = ? WHERE id = ?').run(now, r.id);
      }
    })();
    for (const r of db.prepare('SELECT * FROM webhook_subs WHERE deleted_at IS NULL').all() as SubRow[]) {
      this.subs.set(r.id, {
        id: r.id,
        url: r.url,
        events: JSON.parse(r.events_json) as string[],
        source: r.source,
        createdAt: r.created_at,
        signer: new Webhook(r.secret),
      });
    }
  }

  private enqueue(e: HubEvent): void {
    const matching = [...this.subs.values()].filter((s) => matchesAny(e.type, s.events));
    if (matching.length === 0) return;
    const body = JSON.stringify(eventBody(e));
    const now = this.opts.clock.now();
    this.opts.db.transaction(() => {
      for (const s of matching) this.stmts.insert.run(s.id, e.id, e.type, body, now, now);
    })();
    for (const s of matching) this.wake(s.id);
  }

  private wake(id: string, reschedule = false): void {
    if (this.stopped) return;
    let w = this.workers.get(id);
    if (!w) {
      w = { running: false };
      this.workers.set(id, w);
    }
    if (w.running) return;
    if (w.timer && !reschedule) return; // backing off: the timer will run it
    this.opts.clock.clearTimeout(w.timer);
    w.timer = undefined;
    const p = this.run(id, w).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  private async run(id: string, w: Worker): Promise<void> {
    w.running = true;
    try {
      while (!this.stopped) {
        const sub = this.subs.get(id);
        if (!sub || this.workers.get(id) !== w) return;
        const head = this.stmts.head.get(id) as OutboxRow | undefined;
        if (!head) return;
        const now = this.opts.clock.now();
        if (head.next_at > now) {
          w.timer = this.opts.clock.setTimeout(() => {
            w.timer = undefined;
            this.wake(id);
          }, head.next_at - now);
          return;
        }
        await this.attempt(sub, head);
      }
    } finally {
      w.running = false;
    }
  }

  private async attempt(sub: WebhookSubscription & { signer: Webhook }, row: OutboxRow): Promise<void> {
    const ts = this.opts.clock.now();
    const msgId = String(row.event_id);
    let status: number | null = null;
    let error: string | null = null;
    const started = performance.now();
    try {
      const res = await fetch(sub.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'gridkeeper-webhooks/1',
          'webhook-id': msgId,
          'webhook-timestamp': String(Math.floor(ts / 1000)),
          'webhook-signature': sub.signer.sign(msgId, new Date(ts), row.body),
        },
        body: row.body,
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(this.opts.delivery.timeoutMs), this.abort.signal]),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (err) {
      error = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    }
    this.latency.observe((performance.now() - started) / 1000);
    if (this.stopped && error !== null) return; // aborted by stop(): stays pending, retried after restart
    const now = this.opts.clock.now();
    if (error === null) {
      this.stmts.delivered.run(status, now, row.seq);
      this.deliveries.inc({ result: 'ok' });
      return;
    }
    this.deliveries.inc({ result: 'error' });
    const attempts = row.attempts + 1;
    if (now - row.created_at >= this.opts.delivery.deadAfterMs) {
      this.stmts.dead.run(status, error, now, row.seq);
      this.deadLetters.inc();
      this.opts.log.warn({ webhook: sub.id, eventId: row.event_id, attempts, error }, 'webhook event dead-lettered');
      this.opts.onDead?.(sub, { ...toRecord(row), state: 'dead', attempts, lastStatus: status, lastError: error });
      return;
    }
    const backoff = Math.min(
      this.opts.delivery.maxBackoffMs,
      this.opts.delivery.initialBackoffMs * 2 ** Math.min(attempts - 1, 30),
    );
    this.stmts.retry.run(now + backoff, status, error, row.seq);
    if (attempts === 1)
      this.opts.log.info({ webhook: sub.id, error }, 'webhook receiver failed; retrying with back-off');
  }

  private prune(): void {
    this.opts.db
      .prepare("DELETE FROM webhook_outbox WHERE state = 'delivered' AND done_at < ?")
      .run(this.opts.clock.now() - this.opts.delivery.keepDeliveredMs);
  }
}

function toRecord(r: OutboxRow): DeliveryRecord {
  return {
    seq: r.seq,
    eventId: r.event_id,
    type: r.type,
    state: r.state,
    attempts: r.attempts,
    createdAt: r.created_at,
    nextAt: r.next_at,
    lastStatus: r.last_status,
    lastError: r.last_error,
    doneAt: r.done_at,
  };
}
