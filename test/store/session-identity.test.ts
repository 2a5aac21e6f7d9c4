import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeTime, isValid } from 'ulid';
import { afterEach, describe, expect, it } from 'vitest';
import { OCPP_MIGRATIONS } from '../../adapters/ocpp/migrations.js';
import { openDatabase } from '../../src/store/db.js';
import { CORE_MIGRATIONS } from '../../src/store/migrations.js';
import { SessionStore } from '../../src/store/session-store.js';

const NEW = new Set(['core-004-session-identity', 'ocpp-006-session-identity']);
const OLD_SCHEMA = [...CORE_MIGRATIONS, ...OCPP_MIGRATIONS].filter((m) => !NEW.has(m.id));
const ALL = [...CORE_MIGRATIONS, ...OCPP_MIGRATIONS];

describe('session identity migration and lookups', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  function tempDb(): string {
    const dir = mkdtempSync(join(tmpdir(), 'gk-sid-'));
    dirs.push(dir);
    return join(dir, 'gk.db');
  }

  it('gives old `<charger>-<tx>` sessions a ULID, keeps their data, and moves queued outbox rows along', () => {
    const path = tempDb();
    const old = openDatabase({ path, migrations: OLD_SCHEMA });
    const insert = old.prepare(
      `INSERT INTO sessions (id, evse_id, charger_id, connector_id, id_tag, started_at, stopped_at, meter_start_wh,
                             energy_wh, upstream_tx_id, sync_state, stop_reason)
       VALUES (?, ?, ?, 1, 'TAG', ?, ?, 1000, ?, ?, 'synced', ?)`,
    );
    insert.run('cp-1-5', 'cp-1/1', 'cp-1', 1_767_600_000_000, 1_767_600_600_000, 4000, '5', 'Local');
    insert.run('cp-1-7', 'cp-1/1', 'cp-1', 1_767_700_000_000, null, 250, '7', null);
    old
      .prepare(
        `INSERT INTO ocpp_outbox (charger_id, msg_id, protocol, action, payload, created_at, session_id)
         VALUES ('cp-1', 'm1', 'ocpp1.6', 'MeterValues', '{}', 1, 'cp-1-7')`,
      )
      .run();
    old.close();

    const db = openDatabase({ path, migrations: ALL });
    const store = new SessionStore(db);
    const all = store.list({ chargerId: 'cp-1' });
    expect(all).toHaveLength(2);
    for (const s of all) {
      expect(isValid(s.id)).toBe(true);
      expect(decodeTime(s.id)).toBe(s.startedAt);
    }
    const [open, stopped] = all; // newest first
    expect(stopped).toMatchObject({
      chargerTransactionId: '5',
      energyWh: 4000,
      stoppedAt: 1_767_600_600_000,
      stopReason: 'Local',
      upstreamTransactionId: '5',
      idTag: 'TAG',
    });
    expect(open).toMatchObject({ chargerTransactionId: '7', energyWh: 250 });
    expect(open?.stoppedAt).toBeUndefined();
    const row = db.prepare(`SELECT session_id FROM ocpp_outbox WHERE msg_id = 'm1'`).get() as { session_id: string };
    expect(row.session_id).toBe(open?.id);
    // Lookups by transaction id see open sessions only.
    expect(store.openByTransaction('cp-1', '7')?.id).toBe(open?.id);
    expect(store.openByTransaction('cp-1', '5')).toBeUndefined();
    expect(store.lastByTransaction('cp-1', '5', 'other')?.id).toBe(stopped?.id);
    // A partner holding an old id still finds the session.
    expect(store.get('cp-1-5')?.id).toBe(stopped?.id);
    db.close();
  });

  it('keeps two sessions with the same transaction id apart; only the open one is found by it', () => {
    const db = openDatabase({ path: tempDb(), migrations: ALL });
    const store = new SessionStore(db);
    const base = {
      evseId: 'c/1',
      chargerId: 'c',
      connectorId: 1,
      chargerTransactionId: '1',
      upstreamTransactionId: '1',
    };
    store.upsert({ ...base, id: 'A', startedAt: 1, stoppedAt: 2, energyWh: 10, syncState: 'synced' });
    store.upsert({ ...base, id: 'B', startedAt: 3, energyWh: 0, syncState: 'synced' });
    store.upsert({ ...base, id: 'B', startedAt: 3, energyWh: 5, syncState: 'synced' });
    expect(store.get('A')).toMatchObject({ energyWh: 10, stoppedAt: 2 });
    expect(store.openByTransaction('c', '1')?.id).toBe('B');
    expect(store.openByUpstream('c', '1')?.id).toBe('B');
    expect(store.openOnConnector('c', 1).map((s) => s.id)).toEqual(['B']);
    db.close();
  });
});
