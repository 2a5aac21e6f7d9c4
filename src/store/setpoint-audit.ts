import type { Setpoint } from '../model/decision.js';
import { summariseReasons } from '../model/decision.js';
import { ChunkedWriter, deleteInChunks } from './chunked-writes.js';
import type { Db } from './db.js';

export interface SetpointAuditEntry {
  readonly seq: number;
  readonly ts: number;
  readonly evseId: string;
  readonly currentA: number;
  readonly powerW: number;
  readonly phases: number;
  readonly reason: string;
  readonly result: string;
}

/** The columns of an entry, named as its fields. */
const COLUMNS = 'seq, ts, evse_id AS evseId, current_a AS currentA, power_w AS powerW, phases, reason, result';

interface Pending {
  readonly ts: number;
  readonly sp: Setpoint;
  readonly result: string;
}

/**
 * Append-only log of every set-point written to a device, with its reason and outcome. Entries are
 * written in transactions of up to 250 a turn of the event loop (`ChunkedWriter`): a round that
 * confirms hundreds of writes paid a commit for each (a third of the gateway's CPU at 1000 chargers). Reads see every entry
 * recorded so far; `flush()` before the database closes.
 */
export class SetpointAudit {
  private readonly writes: ChunkedWriter<Pending>;
  private readonly pruneChunk: (before: number, limit: number) => number;

  constructor(private readonly db: Db) {
    const insert = db.prepare(
      `INSERT INTO setpoint_audit (ts, evse_id, current_a, power_w, phases, reason, reasons_json, result)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertAll = db.transaction((rows: readonly Pending[]) => {
      for (const { ts, sp, result } of rows)
        insert.run(
          ts,
          sp.evseId,
          sp.currentA,
          sp.powerW,
          sp.phases,
          summariseReasons(sp.reasons),
          JSON.stringify(sp.reasons),
          result,
        );
    });
    // Only the oldest `limit` rows by seq (the rowid, which grows with ts) are looked at: a filter on
    // ts alone would scan the whole table once no old row is left (there is no index on ts).
    const del = db.prepare(
      `DELETE FROM setpoint_audit WHERE seq IN
         (SELECT seq FROM (SELECT seq, ts FROM setpoint_audit ORDER BY seq LIMIT ?) WHERE ts < ?)`,
    );
    this.pruneChunk = (before, limit) => del.run(limit, before).changes;
    this.writes = new ChunkedWriter(db, insertAll);
  }

  /**
   * Deletes entries older than `before`, `chunk` rows per transaction with a turn of the event loop
   * between chunks: a 1000-charger site writes ~10^5 entries a day, and one big DELETE would stall
   * the OCPP proxy on the same loop. Resolves with the number of rows deleted.
   */
  async prune(before: number, chunk = 2000): Promise<number> {
    this.flush();
    return deleteInChunks(this.db, (limit) => this.pruneChunk(before, limit), chunk);
  }

  record(ts: number, sp: Setpoint, result: string): void {
    this.writes.push({ ts, sp, result });
  }

  /** Writes what was recorded and not yet written. */
  flush(): void {
    this.writes.flush();
  }

  recent(limit = 100, evseId?: string): SetpointAuditEntry[] {
    this.flush();
    const rows = evseId
      ? this.db
          .prepare(`SELECT ${COLUMNS} FROM setpoint_audit WHERE evse_id = ? ORDER BY seq DESC LIMIT ?`)
          .all(evseId, limit)
      : this.db.prepare(`SELECT ${COLUMNS} FROM setpoint_audit ORDER BY seq DESC LIMIT ?`).all(limit);
    return rows as SetpointAuditEntry[];
  }
}
