import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

import type { Db, Migration } from '../ports/store.js';

export type { Db, Migration } from '../ports/store.js';

export interface OpenDatabaseOptions {
  readonly path: string;
  readonly migrations: readonly Migration[];
}

/**
 * Open (or create) the gateway database in WAL mode and apply pending
 * migrations in one transaction each. `synchronous=NORMAL` under WAL is
 * durable against process crashes (kill -9), which is what the outbox
 * promises; `FULL` would add power-loss durability at ~2x the fsync cost.
 */
export function openDatabase(opts: OpenDatabaseOptions): Db {
  if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
  const db = new Database(opts.path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const applied = new Set(
    (db.prepare('SELECT id FROM schema_migrations').all() as Array<{ id: string }>).map((r) => r.id),
  );
  const mark = db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)');
  for (const m of opts.migrations) {
    if (applied.has(m.id)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      // Migration bookkeeping is the one place where wall time is fine: it is
      // not part of any control decision.
      mark.run(m.id, Date.now());
    })();
  }
  return db;
}
