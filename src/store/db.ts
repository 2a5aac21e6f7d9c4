import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

import type { Db, Migration } from '../ports/store.js';
import { type CheckpointerOptions, startCheckpointer } from './checkpointer.js';

export type { Db, Migration } from '../ports/store.js';

export interface OpenDatabaseOptions {
  readonly path: string;
  readonly migrations: readonly Migration[];
  /** A checkpoint the background checkpointer could not make (default: written to stderr). */
  readonly onCheckpointError?: (message: string) => void;
  /** The background checkpointer's pace (tests): see `CheckpointerOptions`. */
  readonly checkpoint?: Pick<CheckpointerOptions, 'everyMs' | 'restartAfterFrames' | 'onRestart'>;
}

/**
 * Open (or create) the gateway database in WAL mode and apply pending
 * migrations in one transaction each. `synchronous=NORMAL` under WAL is
 * durable against process crashes (kill -9), which is what the outbox
 * promises; `FULL` would add power-loss durability at ~2x the fsync cost.
 * A file database is checkpointed from a worker thread (checkpointer.ts), never by a commit on the
 * event loop; closing the database stops it.
 */
export function openDatabase(opts: OpenDatabaseOptions): Db {
  if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
  const db = new Database(opts.path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // A WAL file that grew under load is cut back to this size when it starts over.
  db.pragma('journal_size_limit = 33554432');
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
  if (opts.path === ':memory:') return db;
  db.pragma('wal_autocheckpoint = 0');
  const checkpointer = startCheckpointer({
    path: opts.path,
    ...opts.checkpoint,
    onError: opts.onCheckpointError ?? ((m) => process.stderr.write(`gridkeeper: WAL checkpoint failed: ${m}\n`)),
  });
  const close = db.close.bind(db);
  db.close = () => {
    checkpointer.stop();
    return close();
  };
  return db;
}
