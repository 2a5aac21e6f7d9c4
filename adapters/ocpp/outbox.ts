import type { Db } from '../../src/ports/store.js';
import { ChargerCaches } from './charger-caches.js';
import { type OutboxRow, type OutboxStatus, type RawRow, fromRaw } from './outbox-row.js';
import { STATUS_KEY, statusKeyRange } from './repeats.js';
import type { OcppProtocol } from './rpc/protocol.js';

export type { OutboxRow, OutboxStatus } from './outbox-row.js';

/** What a charger still owes the CMS. */
export interface OutboxBacklog {
  readonly chargerId: string;
  readonly pending: number;
  /** `createdAt` of the oldest pending message (epoch ms). */
  readonly oldestPendingAt?: number;
  readonly parked: number;
}

export interface AppendInput {
  readonly chargerId: string;
  readonly msgId: string;
  readonly protocol: OcppProtocol;
  readonly action: string;
  readonly payload: unknown;
  readonly createdAt: number;
  readonly offline: boolean;
  readonly sessionId?: string;
  /** Same action and content as an earlier message = the charger's repeat (undefined: never a repeat). */
  readonly contentKey?: string;
}

/**
 * Durable, ordered store of every charger message the CMS must see.
 * Each append is its own SQLite transaction (WAL, synchronous=NORMAL: safe
 * against a killed process), committed before the charger gets its answer.
 * `(charger_id, msg_id)` is unique, so a charger repeating a message after
 * a gateway crash is recognised instead of queued twice.
 */
/**
 * The durable outbox toward the CMS. Its database also keeps two small per-charger caches (the
 * CMS's max profile, the authorisation cache): they live in charger-caches.ts.
 */
export class OcppOutbox extends ChargerCaches {
  private readonly insertStmt;
  private readonly byContentStmt;
  private readonly latestStatusStmt;
  private readonly startDoneStmt;
  private readonly byMsgStmt;
  private readonly pendingStmt;
  private readonly hasPendingStmt;
  private readonly doneStmt;
  private readonly attemptStmt;
  private readonly poisonStmt;
  private readonly localTxStmt;
  private readonly nextTxStmt;
  private readonly bumpTxStmt;
  private readonly mapTxStmt;
  private readonly lookupTxStmt;
  private readonly busyStmt;
  private readonly isLocalTxStmt;
  private readonly sessionStatusStmt;
  private readonly countsStmt;
  private readonly totalStmt;
  private readonly backlogStmt;

  constructor(db: Db) {
    super(db);
    this.insertStmt = db.prepare(`
      INSERT OR IGNORE INTO ocpp_outbox
        (charger_id, msg_id, protocol, action, payload, created_at, offline, session_id, content_key)
      VALUES (@chargerId, @msgId, @protocol, @action, @payload, @createdAt, @offline, @sessionId, @contentKey)`);
    this.byContentStmt = db.prepare(
      'SELECT * FROM ocpp_outbox WHERE charger_id = ? AND content_key = ? ORDER BY seq LIMIT 1',
    );
    this.latestStatusStmt = db.prepare(
      'SELECT * FROM ocpp_outbox WHERE charger_id = ? AND content_key >= ? AND content_key < ? ORDER BY seq DESC LIMIT 1',
    );
    this.startDoneStmt = db.prepare('SELECT local_tx_id FROM ocpp_outbox WHERE seq = ?');
    this.byMsgStmt = db.prepare('SELECT * FROM ocpp_outbox WHERE charger_id = ? AND msg_id = ?');
    this.pendingStmt = db.prepare(
      `SELECT * FROM ocpp_outbox WHERE charger_id = ? AND status = 'pending' ORDER BY seq LIMIT ?`,
    );
    this.hasPendingStmt = db.prepare(`SELECT 1 FROM ocpp_outbox WHERE charger_id = ? AND status = 'pending' LIMIT 1`);
    this.doneStmt = db.prepare(
      `UPDATE ocpp_outbox SET status = 'done', response = ?, done_at = ?, last_error = NULL WHERE seq = ?`,
    );
    this.attemptStmt = db.prepare('UPDATE ocpp_outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?');
    this.poisonStmt = db.prepare(
      `UPDATE ocpp_outbox SET status = 'poison', attempts = attempts + 1, last_error = ?, done_at = ? WHERE seq = ?`,
    );
    this.localTxStmt = db.prepare('UPDATE ocpp_outbox SET local_tx_id = ?, session_id = ? WHERE seq = ?');
    this.nextTxStmt = db.prepare(`SELECT value FROM ocpp_meta WHERE key = 'next_local_tx_id'`);
    this.bumpTxStmt = db.prepare(`UPDATE ocpp_meta SET value = value + 1 WHERE key = 'next_local_tx_id'`);
    this.mapTxStmt = db.prepare(
      'INSERT OR REPLACE INTO ocpp_tx_map (charger_id, local_tx_id, upstream_tx_id) VALUES (?, ?, ?)',
    );
    this.lookupTxStmt = db.prepare('SELECT upstream_tx_id FROM ocpp_tx_map WHERE charger_id = ? AND local_tx_id = ?');
    // Statements on the per-message path are prepared once (a prepare costs more than the query).
    this.busyStmt = db.prepare(
      `SELECT EXISTS(SELECT 1 FROM ocpp_outbox WHERE charger_id = @c AND status = 'pending')
           OR EXISTS(SELECT 1 FROM ocpp_outbox WHERE charger_id = @c AND msg_id = @m) AS busy`,
    );
    this.isLocalTxStmt = db.prepare('SELECT 1 FROM ocpp_outbox WHERE charger_id = ? AND local_tx_id = ? LIMIT 1');
    this.sessionStatusStmt = db.prepare(
      'SELECT status, COUNT(*) AS n FROM ocpp_outbox WHERE session_id = ? GROUP BY status',
    );
    this.countsStmt = db.prepare(
      `SELECT status, COUNT(*) AS n FROM ocpp_outbox WHERE status IN ('pending', 'poison') GROUP BY status`,
    );
    // A bare COUNT(*) counts index pages; counting the delivered rows by status would read each entry.
    this.totalStmt = db.prepare('SELECT COUNT(*) AS n FROM ocpp_outbox');
    this.backlogStmt = db.prepare(
      `SELECT charger_id AS chargerId,
              SUM(status = 'pending') AS pending,
              MIN(CASE WHEN status = 'pending' THEN created_at END) AS oldestPendingAt,
              SUM(status = 'poison') AS parked
         FROM ocpp_outbox WHERE status IN ('pending', 'poison')
        GROUP BY charger_id ORDER BY charger_id`,
    );
  }

  /** Append (write-ahead). Returns the stored row and whether it already existed (a repeat). */
  append(input: AppendInput): { row: OutboxRow; repeat: boolean } {
    if (input.contentKey !== undefined) {
      // The charger sent this very message before under another message id (its retry after a lost answer);
      // a status only as the latest one of its connector (repeats.ts).
      const prior = (
        input.contentKey.startsWith(STATUS_KEY)
          ? this.latestStatusStmt.get(input.chargerId, ...statusKeyRange(input.contentKey))
          : this.byContentStmt.get(input.chargerId, input.contentKey)
      ) as RawRow | undefined;
      if (prior && prior.content_key === input.contentKey && prior.msg_id !== input.msgId) {
        return { row: fromRaw(prior), repeat: true };
      }
    }
    const info = this.insertStmt.run({
      chargerId: input.chargerId,
      msgId: input.msgId,
      protocol: input.protocol,
      action: input.action,
      payload: JSON.stringify(input.payload),
      createdAt: input.createdAt,
      offline: input.offline ? 1 : 0,
      sessionId: input.sessionId ?? null,
      contentKey: input.contentKey ?? null,
    });
    if (info.changes === 1) {
      // The common case: a new row; no read-back needed.
      return {
        row: {
          seq: Number(info.lastInsertRowid),
          chargerId: input.chargerId,
          msgId: input.msgId,
          protocol: input.protocol,
          action: input.action,
          payload: input.payload as Record<string, unknown>,
          createdAt: input.createdAt,
          offline: input.offline,
          ...(input.sessionId !== undefined ? { sessionId: input.sessionId } : {}),
          ...(input.contentKey !== undefined ? { contentKey: input.contentKey } : {}),
          status: 'pending',
          attempts: 0,
        },
        repeat: false,
      };
    }
    const row = this.byMessage(input.chargerId, input.msgId);
    if (!row) throw new Error('outbox append lost its row');
    return { row, repeat: true };
  }

  private batch: Array<{
    input: AppendInput;
    resolve: (r: { row: OutboxRow; repeat: boolean }) => void;
    reject: (e: unknown) => void;
  }> = [];

  /**
   * Group commit: appends arriving in the same event-loop turn (many
   * chargers talking at once) share one SQLite transaction. Each promise
   * resolves only after that transaction has committed, so the write-ahead
   * promise (durable before the charger gets its answer) still holds.
   */
  appendDurable(input: AppendInput): Promise<{ row: OutboxRow; repeat: boolean }> {
    return new Promise((resolve, reject) => {
      this.batch.push({ input, resolve, reject });
      if (this.batch.length === 1) setImmediate(() => this.commitBatch());
    });
  }

  private commitBatch(): void {
    const items = this.batch;
    this.batch = [];
    let results: Array<{ row: OutboxRow; repeat: boolean }>;
    try {
      results = this.db.transaction(() => items.map((it) => this.append(it.input)))();
    } catch (err) {
      for (const it of items) it.reject(err);
      return;
    }
    items.forEach((it, i) => {
      it.resolve(results[i] as { row: OutboxRow; repeat: boolean });
    });
  }

  private doneBatch: Array<{
    seqs: readonly number[];
    response: string;
    now: number;
    resolve: () => void;
    reject: (e: unknown) => void;
  }> = [];

  /**
   * Mark rows delivered, group-committed like `appendDurable` (the CMS's answers to many chargers arriving
   * in one event-loop turn share one SQLite transaction instead of one commit each); resolves once committed.
   * A crash before the commit leaves the rows pending: they go to the CMS again with the same message ids.
   */
  markDoneDurable(seqs: readonly number[], response: unknown, now: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.doneBatch.push({ seqs, response: JSON.stringify(response ?? null), now, resolve, reject });
      if (this.doneBatch.length === 1) setImmediate(() => this.commitDone());
    });
  }

  private commitDone(): void {
    const items = this.doneBatch;
    this.doneBatch = [];
    try {
      this.db.transaction(() => {
        for (const it of items) for (const seq of it.seqs) this.doneStmt.run(it.response, it.now, seq);
      })();
    } catch (err) {
      for (const it of items) it.reject(err);
      return;
    }
    for (const it of items) it.resolve();
  }

  byMessage(chargerId: string, msgId: string): OutboxRow | undefined {
    const r = this.byMsgStmt.get(chargerId, msgId) as RawRow | undefined;
    return r ? fromRaw(r) : undefined;
  }

  /**
   * Whether a charger call cannot be forwarded live: the charger has
   * messages waiting for the CMS (order), or this message id is in the
   * outbox already (a repeat). One query, no row read.
   */
  busy(chargerId: string, msgId: string): boolean {
    return (this.busyStmt.get({ c: chargerId, m: msgId }) as { busy: number }).busy === 1;
  }

  /** Whether a charger has anything waiting for the CMS (cheap: no rows are read). */
  hasPending(chargerId: string): boolean {
    return this.hasPendingStmt.get(chargerId) !== undefined;
  }

  pending(chargerId: string, limit = 100): OutboxRow[] {
    return (this.pendingStmt.all(chargerId, limit) as RawRow[]).map(fromRaw);
  }

  markDone(seq: number, response: unknown, now: number): void {
    this.doneStmt.run(JSON.stringify(response ?? null), now, seq);
  }

  /** Mark several rows delivered in one commit (a coalesced replay frame). */
  markDoneMany(seqs: readonly number[], response: unknown, now: number): void {
    if (seqs.length === 1) {
      this.markDone(seqs[0] as number, response, now);
      return;
    }
    const json = JSON.stringify(response ?? null);
    this.db.transaction(() => {
      for (const seq of seqs) this.doneStmt.run(json, now, seq);
    })();
  }

  markAttempt(seq: number, error: string): void {
    this.attemptStmt.run(error, seq);
  }

  markPoison(seq: number, error: string, now: number): void {
    this.poisonStmt.run(error, now, seq);
  }

  /** Issue a gateway transaction id for a StartTransaction answered locally and record it on the row, atomically. */
  issueLocalTx(seq: number, sessionId: string): number {
    return this.db.transaction(() => {
      const { value } = this.nextTxStmt.get() as { value: number };
      this.bumpTxStmt.run();
      this.localTxStmt.run(value, sessionId, seq);
      return value;
    })();
  }

  /**
   * 1.6: the CMS took a StartTransaction. Marks it delivered and, if the
   * charger got a gateway transaction id for it, records the CMS's id for
   * that one in the same commit (a crash between the two would leave later
   * messages with an id the CMS never issued). Returns the gateway's id.
   */
  startDelivered(
    chargerId: string,
    seq: number,
    response: unknown,
    upstreamTxId: number,
    now: number,
  ): number | undefined {
    return this.db.transaction(() => {
      this.doneStmt.run(JSON.stringify(response ?? null), now, seq);
      const local = (this.startDoneStmt.get(seq) as { local_tx_id: number | null } | undefined)?.local_tx_id;
      if (local === null || local === undefined) return undefined;
      this.mapTxStmt.run(chargerId, local, upstreamTxId);
      return local;
    })();
  }

  upstreamTx(chargerId: string, localTxId: number): number | undefined {
    const r = this.lookupTxStmt.get(chargerId, localTxId) as { upstream_tx_id: number } | undefined;
    return r?.upstream_tx_id;
  }

  /** Whether the gateway issued this transaction id to the charger (1.6, answered offline). */
  isLocalTx(chargerId: string, txId: number): boolean {
    return this.isLocalTxStmt.get(chargerId, txId) !== undefined;
  }

  /** Counts by status of a session's rows (sync state of the session). */
  sessionStatus(sessionId: string): { pending: number; poison: number } {
    const rows = this.sessionStatusStmt.all(sessionId) as Array<{ status: string; n: number }>;
    let pending = 0;
    let poison = 0;
    for (const r of rows) {
      if (r.status === 'pending') pending = r.n;
      if (r.status === 'poison') poison = r.n;
    }
    return { pending, poison };
  }

  counts(): { pending: number; poison: number; done: number } {
    const rows = this.countsStmt.all() as Array<{ status: string; n: number }>;
    const out = { pending: 0, poison: 0, done: 0 };
    for (const r of rows) if (r.status in out) out[r.status as OutboxStatus] = r.n;
    out.done = (this.totalStmt.get() as { n: number }).n - out.pending - out.poison;
    return out;
  }

  /** Parked messages, newest first (API / operators), optionally of one charger. */
  poisoned(limit = 100, chargerId?: string): OutboxRow[] {
    const rows =
      chargerId === undefined
        ? this.db.prepare(`SELECT * FROM ocpp_outbox WHERE status = 'poison' ORDER BY seq DESC LIMIT ?`).all(limit)
        : this.db
            .prepare(`SELECT * FROM ocpp_outbox WHERE status = 'poison' AND charger_id = ? ORDER BY seq DESC LIMIT ?`)
            .all(chargerId, limit);
    return (rows as RawRow[]).map(fromRaw);
  }

  /**
   * Per charger with anything queued or parked: pending count, when its
   * oldest pending message was queued, parked count. One grouped query, so
   * a metrics scrape stays cheap at 1000 chargers.
   */
  backlog(): OutboxBacklog[] {
    return (
      this.backlogStmt.all() as Array<{
        chargerId: string;
        pending: number;
        oldestPendingAt: number | null;
        parked: number;
      }>
    ).map((r) => ({
      chargerId: r.chargerId,
      pending: r.pending,
      ...(r.oldestPendingAt !== null ? { oldestPendingAt: r.oldestPendingAt } : {}),
      parked: r.parked,
    }));
  }

  /** Put parked messages back in line (an operator fixed the cause); returns how many. */
  requeue(seqs: readonly number[]): number {
    const stmt = this.db.prepare(
      `UPDATE ocpp_outbox SET status = 'pending', attempts = 0, done_at = NULL WHERE seq = ? AND status = 'poison'`,
    );
    return this.db.transaction(() => seqs.reduce((n, seq) => n + stmt.run(seq).changes, 0))();
  }

  /** Forget delivered rows older than `before` (they only serve repeat detection). */
  prune(before: number): number {
    // `+status`: a scan beats the status index here (almost every row is done, done_at is not in it).
    return this.db.prepare(`DELETE FROM ocpp_outbox WHERE +status = 'done' AND done_at < ?`).run(before).changes;
  }
}
