import type { Migration } from '../../src/ports/store.js';

/** Schema of the OCPP proxy: durable outbox, 1.6 transaction-id map, authorisation cache. */
export const OCPP_MIGRATIONS: readonly Migration[] = [
  {
    id: 'ocpp-001-outbox',
    sql: `
      CREATE TABLE ocpp_outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        charger_id TEXT NOT NULL,
        msg_id TEXT NOT NULL,
        protocol TEXT NOT NULL,
        action TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        offline INTEGER NOT NULL DEFAULT 0,
        local_tx_id INTEGER,
        session_id TEXT,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        response TEXT,
        done_at INTEGER,
        UNIQUE (charger_id, msg_id)
      );
      CREATE INDEX ocpp_outbox_pending ON ocpp_outbox (charger_id, status, seq);
      CREATE INDEX ocpp_outbox_session ON ocpp_outbox (session_id);
    `,
  },
  {
    id: 'ocpp-002-tx-map',
    sql: `
      CREATE TABLE ocpp_tx_map (
        charger_id TEXT NOT NULL,
        local_tx_id INTEGER NOT NULL,
        upstream_tx_id INTEGER NOT NULL,
        PRIMARY KEY (charger_id, local_tx_id)
      );
      CREATE TABLE ocpp_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT INTO ocpp_meta (key, value) VALUES ('next_local_tx_id', 1000000001);
    `,
  },
  {
    id: 'ocpp-003-auth-cache',
    sql: `
      CREATE TABLE ocpp_auth_cache (
        id_tag TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    id: 'ocpp-004-cms-caps',
    sql: `
      CREATE TABLE ocpp_cms_caps (
        charger_id TEXT PRIMARY KEY,
        cap_a REAL NOT NULL,
        payload TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    // Delivered rows stay a day (repeat detection): without this a metrics scrape or the outbox API
    // read every one of them (150 ms at 500 000 rows, on the event loop the chargers share).
    id: 'ocpp-005-outbox-status',
    sql: 'CREATE INDEX ocpp_outbox_status ON ocpp_outbox (status, charger_id, created_at);',
  },
  {
    // Sessions are keyed by the gateway's own id now (core-004 kept the old `<charger>-<tx>` id as
    // legacy_id): queued rows follow their session. content_key recognises a charger's repeat of a
    // recorded message under a new message id (same action, same content).
    id: 'ocpp-006-session-identity',
    sql: `
      UPDATE ocpp_outbox SET session_id = (SELECT s.id FROM sessions s WHERE s.legacy_id = ocpp_outbox.session_id)
       WHERE session_id IS NOT NULL
         AND EXISTS (SELECT 1 FROM sessions s WHERE s.legacy_id = ocpp_outbox.session_id);
      ALTER TABLE ocpp_outbox ADD COLUMN content_key TEXT;
      CREATE INDEX ocpp_outbox_content ON ocpp_outbox (charger_id, content_key) WHERE content_key IS NOT NULL;
    `,
  },
];
