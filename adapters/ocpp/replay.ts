import type { TimerHandle } from '../../src/model/clock.js';
import { Backoff } from '../../src/util/backoff.js';
import type { ChargerRef, LinkContext } from './context.js';
import type { OutboxRow } from './outbox.js';
import { callErrorOf } from './rpc/call.js';
import type { SessionTracker } from './sessions.js';
import { toCms } from './tx-ids.js';
import type { Payload, V16 } from './types.js';
import type { Upstream } from './upstream.js';

type Ctx = Pick<LinkContext, 'cfg' | 'clock' | 'log' | 'outbox' | 'stats'>;

/**
 * Delivery of one charger's outbox to the CMS: oldest first, one call at a
 * time, with the charger's message ids; 1.6 transaction ids remapped, 2.x
 * `offline` flags set. A CALLERROR is retried with back-off and parked as
 * poison after `replay.maxAttempts`; a timeout reopens the CMS connection
 * and counts against the message only if the CMS answered other calls
 * meanwhile (`replay.maxTimeouts`).
 */
export class OutboxReplay {
  private draining = false;
  private stopped = false;
  private retryTimer?: TimerHandle;
  private readonly retry: Backoff;
  /** The charger's pending rows, oldest first: all of them when `known`, else a page read from the outbox. */
  private queue: OutboxRow[] = [];
  private known = false;
  /** Highest seq placed in `queue` (a row read from the outbox is not enqueued again). */
  private lastSeq = 0;
  /** Chargers waiting for the CMS's answer to their queued message, by outbox seq. */
  private readonly waiters = new Map<number, (response: Payload | undefined) => void>();

  constructor(
    private readonly charger: ChargerRef,
    private readonly upstream: Upstream,
    private readonly sessions: SessionTracker,
    private readonly ctx: Ctx,
    /** The outbox of this charger is empty (the link may let its CMS connection go). */
    private readonly onEmpty: () => void,
  ) {
    const { retryMinMs, retryMaxMs } = ctx.cfg.replay;
    this.retry = new Backoff({ initialMs: retryMinMs, maxMs: Math.max(retryMinMs, retryMaxMs), jitter: 0.5 });
  }

  /** Stop sending; chargers still waiting get their local answer. */
  stop(): void {
    this.stopped = true;
    this.ctx.clock.clearTimeout(this.retryTimer);
    this.release();
  }

  /** Everyone waiting for a CMS answer gets the local one now (the CMS connection is gone). */
  release(): void {
    for (const w of [...this.waiters.values()]) w(undefined);
    this.waiters.clear();
  }

  /** Wait for the replay to deliver this row, at most `forwardTimeoutMs`; undefined = answer locally. */
  awaitCms(row: OutboxRow): Promise<Payload | undefined> {
    if (!this.upstream.online) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = this.ctx.clock.setTimeout(() => {
        this.waiters.delete(row.seq);
        resolve(undefined);
      }, this.ctx.cfg.forwardTimeoutMs);
      this.waiters.set(row.seq, (res) => {
        this.ctx.clock.clearTimeout(timer);
        resolve(res);
      });
      void this.drain();
    });
  }

  /**
   * A row this link just wrote (committed): it joins the in-memory queue when that queue holds every pending
   * row of the charger, else the next read of the outbox finds it. A row already read from the outbox (a read
   * between its commit and this call) is not added twice.
   */
  enqueue(row: OutboxRow): void {
    if (!this.known || row.seq <= this.lastSeq) return;
    this.queue.push(row);
    this.lastSeq = row.seq;
  }

  /** Rows were put back in line from outside (parked ones requeued): read the outbox again. */
  invalidate(): void {
    this.known = false;
  }

  /** Send pending outbox rows upstream, oldest first, one at a time. */
  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      for (;;) {
        const up = this.upstream.current;
        if (!up || this.stopped) return;
        if (this.queue.length === 0 && !this.known) this.load();
        const row = this.queue[0];
        if (!row) break;
        const prepared = this.prepare(row);
        if ('poison' in prepared) {
          this.queue.shift();
          this.poison(row, prepared.poison);
          continue;
        }
        const { group, payload } = this.coalesce(prepared.payload);
        const outcome = await this.send(up, group, payload);
        if (outcome === 'stop') return;
        if (this.upstream.current !== up) return;
      }
      this.onEmpty();
    } finally {
      this.draining = false;
    }
  }

  /**
   * The charger's pending rows from the outbox (after a restart, a reconnect, a requeue), oldest first. Fewer
   * than a page means the queue now holds all of them: rows this link writes from here on are added by
   * `enqueue`, so the per-message path reads nothing back from SQLite.
   */
  private load(): void {
    const page = 64;
    const rows = this.ctx.outbox.pending(this.charger.id, page);
    this.queue = rows;
    this.known = rows.length < page;
    this.lastSeq = rows.length > 0 ? (rows[rows.length - 1] as OutboxRow).seq : this.lastSeq;
  }

  /** Coalesce a backlog of meter values of one connector and transaction into one frame (optional). */
  private coalesce(first: Payload): { group: OutboxRow[]; payload: Payload } {
    const rows = this.queue;
    const row = rows[0] as OutboxRow;
    const group = [row];
    let payload = first;
    const max = this.ctx.cfg.replay.batchMeterValues;
    while (row.action === 'MeterValues' && group.length < max && group.length < rows.length) {
      const next = rows[group.length] as OutboxRow;
      const np = next.action === 'MeterValues' ? this.prepare(next) : undefined;
      if (!np || 'poison' in np || !sameMeterTarget(payload, np.payload)) break;
      payload = {
        ...payload,
        meterValue: [...(payload.meterValue as unknown[]), ...(np.payload.meterValue as unknown[])],
      };
      group.push(next);
    }
    return { group, payload };
  }

  /** One frame to the CMS; 'stop' ends this drain (socket gone, or a retry is scheduled). */
  private async send(
    up: NonNullable<Upstream['current']>,
    group: readonly OutboxRow[],
    payload: Payload,
  ): Promise<'next' | 'stop'> {
    const { outbox, clock, cfg } = this.ctx;
    const row = group[0] as OutboxRow;
    const answersBefore = this.upstream.answers;
    try {
      const res = (await this.upstream.call(
        up,
        row.msgId,
        row.action,
        payload,
        cfg.upstream?.callTimeoutMs ?? 30_000,
      )) as Payload;
      this.upstream.answered();
      this.retry.reset();
      if (row.protocol === 'ocpp1.6' && row.action === 'StartTransaction') {
        // Delivered and, for a start answered locally, the CMS's id recorded: one commit, before anything
        // behind it is prepared (its messages need that id).
        const cmsTx = (res as unknown as V16.StartTransactionResponse).transactionId;
        const localTxId = outbox.startDelivered(this.charger.id, row.seq, res, cmsTx, clock.now());
        if (localTxId !== undefined && row.sessionId) this.sessions.upstreamAccepted(row.sessionId, cmsTx);
      } else {
        try {
          await outbox.markDoneDurable(group.length === 1 ? [row.seq] : group.map((g) => g.seq), res, clock.now());
        } catch (err) {
          // Not recorded: the rows stay pending and go again with the same message ids.
          this.ctx.log.error({ err: (err as Error).message }, 'outbox: could not record a delivery');
          this.known = false;
          this.queue = [];
          this.scheduleRetry();
          return 'stop';
        }
      }
      this.queue.splice(0, group.length);
      for (const g of group) {
        this.ctx.stats.replayed++;
        this.delivered(g, res);
      }
      return 'next';
    } catch (err) {
      const ce = callErrorOf(err);
      const stillOpen = this.upstream.current === up;
      if (!ce && !stillOpen) return 'stop'; // socket dropped: resume after reconnect
      const why = ce ? `${ce.code}: ${ce.description}` : err instanceof Error ? err.message : String(err);
      // A refusal (CALLERROR) is about this message; a timeout is more likely a stuck link, so it
      // gets more tries and the connection is reopened. Either way the queue cannot block forever.
      // A timeout counts against the message only if the CMS answered other calls meanwhile
      // (it is alive and stuck on this one); a silent CMS is an outage, not a poison message.
      const counts = ce !== undefined || this.upstream.answers > answersBefore;
      const limit = ce ? cfg.replay.maxAttempts : cfg.replay.maxTimeouts;
      if (counts && row.attempts + 1 >= limit) {
        this.queue.splice(0, group.length);
        for (const g of group) this.poison(g, why);
        return 'next';
      }
      if (counts) {
        outbox.markAttempt(row.seq, why);
        if (this.queue[0] === row) this.queue[0] = { ...row, attempts: row.attempts + 1, lastError: why };
      }
      this.ctx.log.warn({ action: row.action, err: why }, 'CMS did not take a queued message');
      if (!ce) {
        this.upstream.reopen(up);
        return 'stop';
      }
      this.scheduleRetry();
      return 'stop';
    }
  }

  private scheduleRetry(): void {
    this.ctx.clock.clearTimeout(this.retryTimer);
    this.retryTimer = this.ctx.clock.setTimeout(() => void this.drain(), this.retry.next());
  }

  /**
   * Park a message the CMS will never take, so the queue behind it moves on.
   * It stays in the outbox (status `poison`) for the API and metrics.
   */
  private poison(row: OutboxRow, why: string): void {
    this.ctx.outbox.markPoison(row.seq, why, this.ctx.clock.now());
    this.retry.reset();
    this.ctx.stats.poisoned++;
    this.ctx.log.error(
      { chargerId: this.charger.id, action: row.action, msgId: row.msgId, err: why },
      'outbox message parked',
    );
    this.waiters.get(row.seq)?.(undefined);
    this.waiters.delete(row.seq);
    if (row.sessionId) this.sessions.refreshSync(row.sessionId);
  }

  /** Payload as the CMS must see it (the one translation of transaction ids, `tx-ids.ts`). */
  private prepare(row: OutboxRow): { payload: Payload } | { poison: string } {
    return toCms(row, this.ctx.outbox);
  }

  private delivered(row: OutboxRow, res: Payload): void {
    const waiter = this.waiters.get(row.seq);
    this.waiters.delete(row.seq);
    if (row.protocol === 'ocpp1.6' && row.action === 'StartTransaction') {
      const answer = res as unknown as V16.StartTransactionResponse;
      const idTag = (row.payload as unknown as V16.StartTransactionRequest).idTag;
      const status = answer.idTagInfo?.status;
      if (typeof idTag === 'string' && status) this.ctx.outbox.cacheAuth(idTag, status, this.ctx.clock.now());
    }
    if (row.sessionId) this.sessions.delivered(row.sessionId);
    waiter?.(res);
  }
}

/** Two MeterValues frames for the same connector / EVSE and transaction (their samples can share one frame). */
function sameMeterTarget(a: Payload, b: Payload): boolean {
  return a.connectorId === b.connectorId && a.evseId === b.evseId && a.transactionId === b.transactionId;
}
