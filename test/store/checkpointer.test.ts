import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const MIGRATION = { id: 't-001', sql: 'CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Commits one row at a time, without a pause longer than a timer tick, for `ms`. */
async function commitFor(db: Database.Database, ms: number): Promise<number> {
  const insert = db.prepare('INSERT INTO t (payload) VALUES (?)');
  const payload = 'x'.repeat(1500);
  let n = 0;
  const until = performance.now() + ms;
  while (performance.now() < until) {
    for (let i = 0; i < 20; i++) db.transaction(() => insert.run(payload))();
    n += 20;
    await new Promise((r) => setImmediate(r));
  }
  return n;
}

describe('WAL checkpoints in a worker thread', () => {
  it('commits never checkpoint, yet the WAL starts over under commits without a gap', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-ckpt-'));
    dirs.push(dir);
    const path = join(dir, 'g.db');
    const restarts: boolean[] = [];
    const db = openDatabase({
      path,
      migrations: [MIGRATION],
      checkpoint: { everyMs: 100, restartAfterFrames: 2000, onRestart: (_frames, ok) => restarts.push(ok) },
    });
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const n = await commitFor(db, 2500);
    // Each commit appends at least a page (4 KiB) to the WAL: without checkpoints it would hold them all.
    // The bound is loose on purpose: on a loaded 2-core CI machine the worker thread gets little CPU
    // while this loop commits ~50k times a second (the gateway commits a few hundred times), and the
    // WAL reached 26 % of the unchecked size there (vs < 5 % on a quiet machine).
    const unchecked = n * 4096;
    const wal = statSync(`${path}-wal`).size;
    expect(n).toBeGreaterThan(2000);
    expect(wal).toBeLessThan(unchecked / 2);
    // The WAL was started over by the worker's RESTART checkpoints (the gateway's connection never runs one).
    expect(restarts.filter((ok) => ok).length).toBeGreaterThan(0);
    // Everything is in the database file once the checkpointer has caught up (another connection reads it).
    await sleep(1200);
    const reader = new Database(path, { readonly: true });
    expect((reader.prepare('SELECT count(*) AS c FROM t').get() as { c: number }).c).toBe(n);
    reader.close();
    db.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('an in-memory database has no checkpointer and keeps SQLite defaults', () => {
    const db = openDatabase({ path: ':memory:', migrations: [MIGRATION] });
    db.prepare('INSERT INTO t (payload) VALUES (?)').run('a');
    db.close();
  });
});
