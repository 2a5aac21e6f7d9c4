import type { Migration } from '../store/db.js';

/** Schema of the integration layer (keys, audit, events, webhooks, vehicles, overrides, alerts, influx buffer). */
export const INTEGRATION_MIGRATIONS: readonly Migration[] = [
  {
    id: 'integration-001-base',
    sql: `
      CREATE TABLE integration_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        sha256 TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
      CREATE TABLE command_audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ts INTEGER NOT NULL,
        principal_id TEXT NOT NULL,
        principal_name TEXT NOT NULL,
        command TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        params_json TEXT NOT NULL,
        status INTEGER NOT NULL,
        result TEXT NOT NULL
      );
      CREATE INDEX command_audit_ts ON command_audit (ts);
      CREATE TABLE webhook_subs (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        events_json TEXT NOT NULL,
        secret TEXT NOT NULL,
        source TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        deleted_at INTEGER
      );
      CREATE TABLE webhook_outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        sub_id TEXT NOT NULL,
        event_id INTEGER NOT NULL,
        type TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        last_status INTEGER,
        last_error TEXT,
        done_at INTEGER
      );
      CREATE INDEX webhook_outbox_sub ON webhook_outbox (sub_id, state, seq);
      CREATE INDEX webhook_outbox_done ON webhook_outbox (state, done_at);
      CREATE TABLE vehicles (
        id TEXT PRIMARY KEY,
        json TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE site_override (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        limit_w REAL NOT NULL,
        until INTEGER NOT NULL,
        reason TEXT NOT NULL,
        set_by TEXT NOT NULL,
        set_at INTEGER NOT NULL
      );
      CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        severity TEXT NOT NULL,
        message TEXT NOT NULL,
        raised_at INTEGER NOT NULL,
        cleared_at INTEGER,
        json TEXT NOT NULL
      );
      CREATE INDEX alerts_raised ON alerts (raised_at);
      CREATE TABLE evse_status_log (
        evse_id TEXT NOT NULL,
        ts INTEGER NOT NULL,
        status TEXT NOT NULL
      );
      CREATE INDEX evse_status_log_evse ON evse_status_log (evse_id, ts);
      CREATE TABLE influx_buffer (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        points_json TEXT NOT NULL,
        n INTEGER NOT NULL
      );
      CREATE TABLE authoriser_cache (
        id_tag TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        vehicle_id TEXT,
        expires_at INTEGER NOT NULL
      );
    `,
  },
];
