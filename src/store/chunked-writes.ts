import type { Db } from './db.js';

/**
 * Rows appended now and written shortly after, at most `chunk` per transaction with a turn of the
 * event loop between transactions: the OCPP proxy shares this loop, and one long transaction (a
 * 1000-charger site samples ~1000 series at once: 7–9 ms in one go) is a latency spike for every
 * charger. `flush()` writes the rest at once, before a read that must see them or a close.
 */
export class ChunkedWriter<Row> {
  private pending: Row[] = [];
  private scheduled?: NodeJS.Immediate;

  constructor(
    private readonly db: Db,
    /** Writes the rows in one transaction. */
    private readonly writeAll: (rows: readonly Row[]) => void,
    private readonly chunk = 250,
  ) {}

  /** One row, written with the others of this turn (one commit for a round's many rows). */
  push(row: Row): void {
    this.pending.push(row);
    this.scheduled ??= setImmediate(() => this.writeChunk());
  }

  /** A batch that is complete now (a telemetry sample): its first chunk is written at once, the rest on the next turns. */
  pushBatch(rows: readonly Row[]): void {
    for (const r of rows) this.pending.push(r);
    if (!this.scheduled) this.writeChunk();
  }

  /** Writes everything pushed and not yet written. */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.pending.length === 0 || !this.db.open) return;
    const rows = this.pending;
    this.pending = [];
    this.writeAll(rows);
  }

  private writeChunk(): void {
    this.scheduled = undefined;
    if (!this.db.open) return;
    const rows = this.pending.length <= this.chunk ? this.pending : this.pending.splice(0, this.chunk);
    if (rows === this.pending) this.pending = [];
    if (rows.length > 0) this.writeAll(rows);
    if (this.pending.length > 0) this.scheduled = setImmediate(() => this.writeChunk());
  }
}

/**
 * Deletes with `deleteChunk(limit)` (one transaction, returns rows deleted) until a chunk comes back
 * short, a turn of the event loop between chunks: one big DELETE of a day's rows would stall the
 * loop the OCPP proxy shares. Resolves with the number of rows deleted.
 */
export async function deleteInChunks(db: Db, deleteChunk: (limit: number) => number, chunk: number): Promise<number> {
  let total = 0;
  for (;;) {
    if (!db.open) return total;
    const n = deleteChunk(chunk);
    total += n;
    if (n < chunk) return total;
    await new Promise((r) => setImmediate(r));
  }
}
