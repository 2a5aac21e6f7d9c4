import { randomBytes, randomUUID } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { WebhookConfig } from '../config/sections/integration.js';
import type { Clock, TimerHandle } from '../model/clock.js';
import type { WebhookSender } from '../ports/webhooks.js';
import type { Db } from '../store/db.js';
import { delayFor } from '../util/backoff.js';
import type { Logger } from '../util/logger.js';
import { type EventHub, type HubEvent, eventBody, matchesAny } from './events.js';
import { type WebhookMetrics, webhookMetrics } from './webhook-metrics.js';
import {
  type DeliveryRecord,
  type OutboxRow,
  type SubRow,
  toRecord,
  type WebhookStats,
  type WebhookSubscription,
} from './webhook-records.js';

export type { DeliveryRecord, WebhookStats, WebhookSubscription };

export interface WebhookDeliveryOptions {
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly deadAfterMs: number;
  readonly keepDeliveredMs: number;
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
  /** Carries one attempt to the subscriber (HTTP in production: adapters/webhooks). */
  readonly sender: WebhookSender;
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
  private readonly subs = new Map<string, WebhookSubscription & { secret: string }>();
  private readonly workers = new Map<string, Worker>();
  private readonly inFlight = new Set<Promise<void>>();
  private unsubscribe?: () => void;
  private pruneTimer?: TimerHandle;
  private stopped = true;
  private abort = new AbortController();
  private readonly stmts;
  private readonly m: WebhookMetrics;

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
    this.m = webhookMetrics(opts.metrics, db);
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
    return [...this.subs.values()].map(({ secret: _s, ...rest }) => rest);
  }

  get(id: string): WebhookSubscription | undefined {
    const s = this.subs.get(id);
    if (!s) return undefined;
    const { secret: _s, ...rest } = s;
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
    this.subs.set(id, { ...sub, secret });
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
        secret: r.secret,
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

  private async attempt(sub: WebhookSubscription & { secret: string }, row: OutboxRow): Promise<void> {
    const started = performance.now();
    const { status, error } = await this.opts.sender.send(
      {
        url: sub.url,
        secret: sub.secret,
        msgId: String(row.event_id),
        timestamp: this.opts.clock.now(),
        body: row.body,
      },
      this.abort.signal,
    );
    this.m.latency.observe((performance.now() - started) / 1000);
    if (this.stopped && error !== null) return; // aborted by stop(): stays pending, retried after restart
    const now = this.opts.clock.now();
    if (error === null) {
      this.stmts.delivered.run(status, now, row.seq);
      this.m.deliveries.inc({ result: 'ok' });
      return;
    }
    this.m.deliveries.inc({ result: 'error' });
    const attempts = row.attempts + 1;
    if (now - row.created_at >= this.opts.delivery.deadAfterMs) {
      this.stmts.dead.run(status, error, now, row.seq);
      this.m.deadLetters.inc();
      this.opts.log.warn({ webhook: sub.id, eventId: row.event_id, attempts, error }, 'webhook event dead-lettered');
      this.opts.onDead?.(sub, { ...toRecord(row), state: 'dead', attempts, lastStatus: status, lastError: error });
      return;
    }
    // The outbox row carries the attempt count, so the shared back-off is asked statelessly.
    const { initialBackoffMs: initialMs, maxBackoffMs: maxMs } = this.opts.delivery;
    const backoff = delayFor({ initialMs, maxMs }, attempts - 1);
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
