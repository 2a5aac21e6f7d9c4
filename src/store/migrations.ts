import type { Migration } from './db.js';

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
];
