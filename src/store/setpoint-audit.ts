import type { Setpoint } from '../model/decision.js';
import { summariseReasons } from '../model/decision.js';
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

/** Append-only log of every set-point written to a device, with its reason and outcome. */
export class SetpointAudit {
  private readonly insert;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      `INSERT INTO setpoint_audit (ts, evse_id, current_a, power_w, phases, reason, reasons_json, result)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  record(ts: number, sp: Setpoint, result: string): void {
    this.insert.run(
      ts,
      sp.evseId,
      sp.currentA,
      sp.powerW,
      sp.phases,
      summariseReasons(sp.reasons),
      JSON.stringify(sp.reasons),
      result,
    );
  }

  recent(limit = 100, evseId?: string): SetpointAuditEntry[] {
    const rows = evseId
      ? this.db
          .prepare(`SELECT ${COLUMNS} FROM setpoint_audit WHERE evse_id = ? ORDER BY seq DESC LIMIT ?`)
          .all(evseId, limit)
      : this.db.prepare(`SELECT ${COLUMNS} FROM setpoint_audit ORDER BY seq DESC LIMIT ?`).all(limit);
    return rows as SetpointAuditEntry[];
  }
}
