import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { CORE_MIGRATIONS } from '../../src/store/migrations.js';
import { SessionStore } from '../../src/store/session-store.js';
import { SetpointAudit } from '../../src/store/setpoint-audit.js';
import { TelemetryStore } from '../../src/store/telemetry-store.js';

function tempDb(): string {
  return join(mkdtempSync(join(tmpdir(), 'gk-store-')), 'gk.db');
}

describe('store', () => {
  it('runs in WAL mode and applies each migration once', () => {
    const path = tempDb();
    const db = openDatabase({ path, migrations: CORE_MIGRATIONS });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    const again = openDatabase({ path, migrations: CORE_MIGRATIONS });
    const n = again.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number };
    expect(n.n).toBe(CORE_MIGRATIONS.length);
    again.close();
  });

  it('keeps sessions, set-point audit and telemetry across a restart', () => {
    const path = tempDb();
    let db = openDatabase({ path, migrations: CORE_MIGRATIONS });
    new SessionStore(db).upsert({
      id: 's1',
      evseId: 'CP1/1',
      chargerId: 'CP1',
      connectorId: 1,
      idTag: 'TAG1',
      startedAt: 1000,
      energyWh: 0,
      syncState: 'pending',
    });
    const audit = new SetpointAudit(db);
    audit.record(
      1500,
      {
        evseId: 'CP1/1',
        currentA: 16,
        powerW: 11040,
        phases: 3,
        reasons: [{ policy: 'load-management', tier: 'contract', text: 'share' }],
      },
      'ok',
    );
    audit.flush(); // entries are written once per turn of the event loop; the database closes before that
    new TelemetryStore(db, 3_600_000).append(2000, { 'grid.powerW': 1234, bad: Number.NaN });
    db.close();

    db = openDatabase({ path, migrations: CORE_MIGRATIONS });
    const sessions = new SessionStore(db);
    sessions.upsert({
      ...sessions.get('s1')!,
      stoppedAt: 5000,
      energyWh: 4200,
      syncState: 'synced',
      upstreamTransactionId: '77',
    });
    expect(sessions.get('s1')).toMatchObject({
      idTag: 'TAG1',
      stoppedAt: 5000,
      energyWh: 4200,
      upstreamTransactionId: '77',
    });
    expect(sessions.list({ chargerId: 'CP1' })).toHaveLength(1);
    expect(sessions.list({ chargerId: 'CP2' })).toHaveLength(0);
    expect(sessions.open()).toHaveLength(0);
    expect(new SetpointAudit(db).recent()[0]).toMatchObject({
      evseId: 'CP1/1',
      currentA: 16,
      reason: 'contract/load-management: share',
    });
    const t = new TelemetryStore(db, 3_600_000);
    expect(t.query('grid.powerW', 0, 10_000)).toEqual([{ ts: 2000, value: 1234 }]);
    expect(t.series()).toEqual(['grid.powerW']);
    db.close();
  });

  it('prunes telemetry older than the retention and averages into steps', async () => {
    const db = openDatabase({ path: ':memory:', migrations: CORE_MIGRATIONS });
    const t = new TelemetryStore(db, 10_000);
    for (let ts = 0; ts < 20_000; ts += 1000) t.append(ts, { x: ts / 1000 });
    expect(t.query('x', 0, 4000, 2000)).toEqual([
      { ts: 0, value: 0.5 },
      { ts: 2000, value: 2.5 },
    ]);
    expect(await t.prune(20_000, 3)).toBe(10);
    expect(t.query('x', 0, 100_000)).toHaveLength(10);
    db.close();
  });

  it('writes a large telemetry sample in chunks, one per turn, and a read sees all of it', async () => {
    const db = openDatabase({ path: ':memory:', migrations: CORE_MIGRATIONS });
    const t = new TelemetryStore(db, 3_600_000);
    const count = () => (db.prepare('SELECT COUNT(*) AS n FROM telemetry').get() as { n: number }).n;
    const values: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) values[`evse.CP${i}/1.powerW`] = i;
    t.append(5000, values);
    expect(count()).toBe(250); // the first chunk at once, the rest on later turns
    await new Promise((r) => setImmediate(r));
    expect(count()).toBe(500);
    expect(t.query('evse.CP999/1.powerW', 0, 10_000)).toEqual([{ ts: 5000, value: 999 }]); // a read flushes
    expect(count()).toBe(1000);
    db.close();
  });

  it('prunes set-point audit entries older than the retention, in chunks, and keeps the young ones', async () => {
    const db = openDatabase({ path: tempDb(), migrations: CORE_MIGRATIONS });
    const audit = new SetpointAudit(db);
    const sp = (evseId: string) => ({
      evseId,
      currentA: 16,
      powerW: 11040,
      phases: 3 as const,
      reasons: [{ policy: 'load-management', tier: 'contract' as const, text: 'share' }],
    });
    for (let i = 0; i < 5000; i++) audit.record(i, sp(`CP${i % 7}/1`), 'ok');
    audit.flush();
    expect(await audit.prune(4500, 1000)).toBe(4500);
    const left = audit.recent(10_000);
    expect(left).toHaveLength(500);
    expect(Math.min(...left.map((e) => e.ts))).toBe(4500);
    expect(await audit.prune(4500, 1000)).toBe(0);
    db.close();
  });
});
