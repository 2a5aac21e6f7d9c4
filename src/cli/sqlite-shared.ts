import type { Db } from '../ports/store.js';

type Tx = ((...args: unknown[]) => unknown) & {
  deferred: (...args: unknown[]) => unknown;
  immediate: (...args: unknown[]) => unknown;
  exclusive: (...args: unknown[]) => unknown;
};

/**
 * Two connections write the gateway's database when the OCPP proxy runs in its worker thread. A deferred
 * transaction (better-sqlite3's default) that reads before it writes fails at once with "database is locked"
 * (SQLITE_BUSY_SNAPSHOT, no busy wait) when the other connection committed in between: its snapshot is stale.
 * `BEGIN IMMEDIATE` takes the write lock first, waiting up to `busy_timeout` like a single statement does. From
 * here on, `db.transaction(fn)` of this connection is immediate; transactions built before keep their mode.
 */
export function preferImmediateTransactions(db: Db): void {
  const make = db.transaction.bind(db) as unknown as (fn: (...args: unknown[]) => unknown) => Tx;
  const patched = (fn: (...args: unknown[]) => unknown): Tx => {
    const tx = make(fn);
    const run = ((...args: unknown[]) => tx.immediate(...args)) as Tx;
    run.deferred = tx.deferred;
    run.immediate = tx.immediate;
    run.exclusive = tx.exclusive;
    return run;
  };
  (db as unknown as { transaction: typeof patched }).transaction = patched;
}
