import { ChunkedWriter, deleteInChunks } from './chunked-writes.js';
import type { Db } from './db.js';

export interface TelemetryPoint {
  readonly ts: number;
  readonly value: number;
}

type Row = readonly [ts: number, series: string, value: number];

/**
 * Time-series ring buffer: samples older than the retention are pruned, so
 * the file does not grow without bound on a box that runs for years.
 * Writes and prunes go in chunks with a turn of the event loop between them:
 * the OCPP proxy shares this loop, and a long transaction is a latency spike
 * for every charger. Reads see every sample appended so far.
 */
export class TelemetryStore {
  private readonly writes: ChunkedWriter<Row>;
  private readonly pruneChunk: (before: number, limit: number) => number;

  constructor(
    private readonly db: Db,
    private readonly retentionMs: number,
  ) {
    const insert = db.prepare('INSERT INTO telemetry (ts, series, value) VALUES (?, ?, ?)');
    this.writes = new ChunkedWriter(
      db,
      db.transaction((rows: readonly Row[]) => {
        for (const r of rows) insert.run(r[0], r[1], r[2]);
      }),
    );
    const del = db.prepare('DELETE FROM telemetry WHERE rowid IN (SELECT rowid FROM telemetry WHERE ts < ? LIMIT ?)');
    this.pruneChunk = (before, limit) => del.run(before, limit).changes;
  }

  /** Appends one sample of each series (non-finite values are left out); written up to 250 rows a turn (`ChunkedWriter`). */
  append(ts: number, values: Readonly<Record<string, number>>): void {
    const rows: Row[] = [];
    for (const [series, value] of Object.entries(values)) if (Number.isFinite(value)) rows.push([ts, series, value]);
    this.writes.pushBatch(rows);
  }

  /** Writes everything appended and not yet written (before a read or a close). */
  flush(): void {
    this.writes.flush();
  }

  /** Deletes samples older than the retention, `chunk` rows per transaction with a turn between; resolves with the count. */
  async prune(now: number, chunk = 5000): Promise<number> {
    this.flush();
    return deleteInChunks(this.db, (limit) => this.pruneChunk(now - this.retentionMs, limit), chunk);
  }

  series(): string[] {
    this.flush();
    return (
      this.db.prepare('SELECT DISTINCT series FROM telemetry ORDER BY series').all() as Array<{ series: string }>
    ).map((r) => r.series);
  }

  /**
   * Samples of one series in [from, to); with `stepMs` they are averaged into
   * buckets (bucket start as ts).
   */
  query(series: string, from: number, to: number, stepMs?: number): TelemetryPoint[] {
    this.flush();
    if (stepMs && stepMs > 0) {
      return this.db
        .prepare(
          `SELECT CAST(ts / @step AS INTEGER) * @step AS bucket, AVG(value) AS value FROM telemetry
           WHERE series = @series AND ts >= @from AND ts < @to GROUP BY bucket ORDER BY bucket`,
        )
        .all({ series, from, to, step: Math.floor(stepMs) })
        .map((r) => {
          const row = r as { bucket: number; value: number };
          return { ts: row.bucket, value: row.value };
        });
    }
    return this.db
      .prepare('SELECT ts, value FROM telemetry WHERE series = ? AND ts >= ? AND ts < ? ORDER BY ts')
      .all(series, from, to) as TelemetryPoint[];
  }
}
