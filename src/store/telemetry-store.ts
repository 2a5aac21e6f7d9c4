import type { Db } from './db.js';

export interface TelemetryPoint {
  readonly ts: number;
  readonly value: number;
}

/**
 * Time-series ring buffer: samples older than the retention are pruned, so
 * the file does not grow without bound on a box that runs for years.
 */
export class TelemetryStore {
  private readonly insert;
  private readonly pruneStmt;

  constructor(
    private readonly db: Db,
    private readonly retentionMs: number,
  ) {
    this.insert = db.prepare('INSERT INTO telemetry (ts, series, value) VALUES (?, ?, ?)');
    this.pruneStmt = db.prepare('DELETE FROM telemetry WHERE ts < ?');
  }

  /** Write a batch of samples in one transaction. */
  append(ts: number, values: Readonly<Record<string, number>>): void {
    this.db.transaction(() => {
      for (const [series, value] of Object.entries(values)) {
        if (Number.isFinite(value)) this.insert.run(ts, series, value);
      }
    })();
  }

  prune(now: number): number {
    return this.pruneStmt.run(now - this.retentionMs).changes;
  }

  series(): string[] {
    return (
      this.db.prepare('SELECT DISTINCT series FROM telemetry ORDER BY series').all() as Array<{ series: string }>
    ).map((r) => r.series);
  }

  /**
   * Samples of one series in [from, to); with `stepMs` they are averaged into
   * buckets (bucket start as ts).
   */
  query(series: string, from: number, to: number, stepMs?: number): TelemetryPoint[] {
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
