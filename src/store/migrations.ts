import type { Migration } from './db.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * SQL for a ULID of a row: the 48-bit time part from `timeCol` (so old
 * sessions sort by their start like new ones), 80 random bits. Built here so
 * the migration needs nothing but SQL.
 */
function sqlUlid(timeCol: string): string {
  const time = Array.from(
    { length: 10 },
    (_, i) => `substr('${CROCKFORD}', ((${timeCol} >> ${45 - 5 * i}) & 31) + 1, 1)`,
  );
  const rand = Array.from({ length: 16 }, () => `substr('${CROCKFORD}', (abs(random()) % 32) + 1, 1)`);
  return [...time, ...rand].join(' || ');
}

/** Schema of the core stores (sessions, set-point audit, telemetry). */
export const CORE_MIGRATIONS: readonly Migration[] = [
  {
    id: 'core-001-sessions',
    sql: `
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        evse_id TEXT NOT NULL,
        charger_id TEXT NOT NULL,
        connector_id INTEGER NOT NULL,
        id_tag TEXT,
        started_at INTEGER NOT NULL,
        stopped_at INTEGER,
        meter_start_wh REAL,
        energy_wh REAL NOT NULL DEFAULT 0,
        upstream_tx_id TEXT,
        sync_state TEXT NOT NULL DEFAULT 'pending',
        stop_reason TEXT
      );
      CREATE INDEX sessions_charger ON sessions (charger_id, started_at);
      CREATE INDEX sessions_started ON sessions (started_at);
    `,
  },
  {
    id: 'core-002-setpoint-audit',
    sql: `
      CREATE TABLE setpoint_audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ts INTEGER NOT NULL,
        evse_id TEXT NOT NULL,
        current_a REAL NOT NULL,
        power_w REAL NOT NULL,
        phases INTEGER NOT NULL,
        reason TEXT NOT NULL,
        reasons_json TEXT NOT NULL,
        result TEXT NOT NULL
      );
      CREATE INDEX setpoint_audit_evse ON setpoint_audit (evse_id, ts);
    `,
  },
  {
    id: 'core-003-telemetry',
    sql: `
      CREATE TABLE telemetry (
        ts INTEGER NOT NULL,
        series TEXT NOT NULL,
        value REAL NOT NULL
      );
      CREATE INDEX telemetry_series_ts ON telemetry (series, ts);
      CREATE INDEX telemetry_ts ON telemetry (ts);
    `,
  },
  {
    // The gateway's own session id (a ULID) replaces `<chargerId>-<transaction id>`, which repeats when a
    // CMS or charger issues an id again. Old rows keep their data, get a ULID from their start time, and
    // keep the old id (`legacy_id`) so references to it (the OCPP outbox) can follow.
    id: 'core-004-session-identity',
    sql: `
      ALTER TABLE sessions ADD COLUMN charger_tx_id TEXT;
      ALTER TABLE sessions ADD COLUMN legacy_id TEXT;
      UPDATE sessions SET legacy_id = id,
        charger_tx_id = CASE WHEN substr(id, 1, length(charger_id) + 1) = charger_id || '-'
                             THEN substr(id, length(charger_id) + 2) END;
      UPDATE sessions SET id = ${sqlUlid('started_at')};
      CREATE INDEX sessions_open_tx ON sessions (charger_id, charger_tx_id) WHERE stopped_at IS NULL;
      CREATE INDEX sessions_open_upstream ON sessions (charger_id, upstream_tx_id) WHERE stopped_at IS NULL;
      CREATE INDEX sessions_open_connector ON sessions (charger_id, connector_id) WHERE stopped_at IS NULL;
      CREATE INDEX sessions_charger_tx ON sessions (charger_id, charger_tx_id);
      CREATE INDEX sessions_legacy ON sessions (legacy_id);
    `,
  },
];
