import type { Db, Migration } from '../store/db.js';
import type { EventRecord, SignalKind } from './signals.js';
import type { PricePoint } from './tariff.js';

/** Schema of the grid area: event history with compliance, and the last good dynamic prices. */
export const GRID_MIGRATIONS: readonly Migration[] = [
  {
    id: 'grid-001-events-prices',
    sql: `
      CREATE TABLE grid_events (
        key TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        event_id TEXT NOT NULL,
        event_name TEXT,
        kind TEXT NOT NULL,
        value REAL NOT NULL,
        start INTEGER NOT NULL,
        end_at INTEGER,
        observed_s REAL NOT NULL,
        compliant_s REAL NOT NULL,
        response_ms INTEGER,
        first_seen_at INTEGER NOT NULL
      );
      CREATE INDEX grid_events_start ON grid_events (start);
      CREATE TABLE grid_prices (
        source TEXT NOT NULL,
        start INTEGER NOT NULL,
        end_at INTEGER NOT NULL,
        price REAL NOT NULL,
        PRIMARY KEY (source, start)
      );
    `,
  },
];

interface EventRow {
  key: string;
  source: string;
  event_id: string;
  event_name: string | null;
  kind: string;
  value: number;
  start: number;
  end_at: number | null;
  observed_s: number;
  compliant_s: number;
  response_ms: number | null;
  first_seen_at: number;
}

/**
 * SQLite persistence of the grid area, so the event history (and its
 * compliance) and the last good prices survive a restart.
 */
export class GridPersistence {
  constructor(private readonly db: Db) {}

  saveEvents(records: readonly EventRecord[]): void {
    const up = this.db.prepare(
      `INSERT INTO grid_events (key, source, event_id, event_name, kind, value, start, end_at, observed_s, compliant_s, response_ms, first_seen_at)
       VALUES (@key, @source, @event_id, @event_name, @kind, @value, @start, @end_at, @observed_s, @compliant_s, @response_ms, @first_seen_at)
       ON CONFLICT(key) DO UPDATE SET value = excluded.value, end_at = excluded.end_at, observed_s = excluded.observed_s,
         compliant_s = excluded.compliant_s, response_ms = excluded.response_ms, event_name = excluded.event_name`,
    );
    this.db.transaction(() => {
      for (const r of records) {
        up.run({
          key: r.key,
          source: r.source,
          event_id: r.eventId,
          event_name: r.eventName ?? null,
          kind: r.kind,
          value: r.value,
          start: r.start,
          end_at: Number.isFinite(r.end) ? r.end : null,
          observed_s: r.observedS,
          compliant_s: r.compliantS,
          response_ms: r.responseMs ?? null,
          first_seen_at: r.firstSeenAt,
        });
      }
    })();
  }

  loadEvents(limit = 1000): EventRecord[] {
    const rows = this.db.prepare('SELECT * FROM grid_events ORDER BY start DESC LIMIT ?').all(limit) as EventRow[];
    return rows.reverse().map((r) => ({
      key: r.key,
      source: r.source,
      eventId: r.event_id,
      ...(r.event_name !== null ? { eventName: r.event_name } : {}),
      kind: r.kind as SignalKind,
      value: r.value,
      start: r.start,
      end: r.end_at ?? Number.POSITIVE_INFINITY,
      observedS: r.observed_s,
      compliantS: r.compliant_s,
      ...(r.response_ms !== null ? { responseMs: r.response_ms } : {}),
      firstSeenAt: r.first_seen_at,
    }));
  }

  /** Replace a source's cached series. */
  savePrices(source: string, points: readonly PricePoint[]): void {
    const ins = this.db.prepare(
      'INSERT OR REPLACE INTO grid_prices (source, start, end_at, price) VALUES (?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM grid_prices WHERE source = ?').run(source);
      for (const p of points) ins.run(source, p.start, p.end, p.price);
    })();
  }

  loadPrices(source: string): PricePoint[] {
    const rows = this.db
      .prepare('SELECT start, end_at, price FROM grid_prices WHERE source = ? ORDER BY start')
      .all(source) as Array<{ start: number; end_at: number; price: number }>;
    return rows.map((r) => ({ start: r.start, end: r.end_at, price: r.price, source }));
  }
}
