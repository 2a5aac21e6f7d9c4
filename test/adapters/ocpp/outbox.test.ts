import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OCPP_MIGRATIONS, OcppOutbox } from '../../../adapters/ocpp/index.js';
import { contentKey } from '../../../adapters/ocpp/repeats.js';
import { type Db, openDatabase } from '../../../src/store/db.js';
import { CORE_MIGRATIONS } from '../../../src/store/migrations.js';

describe('OCPP outbox: counts and backlog for the API and metrics', () => {
  let dir: string | undefined;
  let db: Db | undefined;
  afterEach(() => {
    db?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    db = undefined;
    dir = undefined;
  });

  function open(): OcppOutbox {
    dir = mkdtempSync(join(tmpdir(), 'gk-outbox-'));
    db = openDatabase({ path: join(dir, 'o.db'), migrations: [...CORE_MIGRATIONS, ...OCPP_MIGRATIONS] });
    return new OcppOutbox(db);
  }

  const row = (chargerId: string, i: number) => ({
    chargerId,
    msgId: `${chargerId}-${i}`,
    protocol: 'ocpp1.6' as const,
    action: 'MeterValues',
    payload: { connectorId: 1, meterValue: [] },
    createdAt: 1000 * i,
    offline: true,
  });

  it('counts by status, per-charger backlog with the oldest pending time, prune of delivered rows', () => {
    const o = open();
    const seqs = Array.from({ length: 10 }, (_, i) => o.append(row(i < 6 ? 'A' : 'B', i)).row.seq);
    o.markDoneMany(seqs.slice(0, 3), {}, 50_000); // A0-A2 delivered
    o.markPoison(seqs[3] as number, 'InternalError: no', 50_000); // A3 parked
    o.markPoison(seqs[6] as number, 'InternalError: no', 50_000); // B6 parked
    expect(o.counts()).toEqual({ pending: 5, poison: 2, done: 3 });
    expect(o.backlog()).toEqual([
      { chargerId: 'A', pending: 2, oldestPendingAt: 4000, parked: 1 },
      { chargerId: 'B', pending: 3, oldestPendingAt: 7000, parked: 1 },
    ]);
    expect(o.poisoned(10, 'B').map((r) => r.msgId)).toEqual(['B-6']);
    expect(o.busy('A', 'new')).toBe(true); // A has pending messages
    expect(o.requeue([seqs[3] as number])).toBe(1);
    expect(o.backlog()[0]).toEqual({ chargerId: 'A', pending: 3, oldestPendingAt: 3000, parked: 0 });
    o.markDoneMany(seqs.slice(3, 6), {}, 60_000);
    expect(o.backlog()).toEqual([{ chargerId: 'B', pending: 3, oldestPendingAt: 7000, parked: 1 }]);
    expect(o.busy('A', 'new')).toBe(false);
    expect(o.busy('A', 'A-1')).toBe(true); // a repeat of a delivered message
    expect(o.prune(55_000)).toBe(3);
    expect(o.counts()).toEqual({ pending: 3, poison: 1, done: 3 });
  });

  it('the scrape and API queries read only queued and parked rows, not the delivered ones kept for a day', () => {
    const o = open();
    const plan = (stmt: 'backlogStmt' | 'countsStmt') => {
      const sql = (o as unknown as Record<string, { source: string }>)[stmt]?.source;
      const rows = (db as Db).prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>;
      return rows.map((r) => r.detail).join();
    };
    for (const stmt of ['backlogStmt', 'countsStmt'] as const) {
      expect(plan(stmt), stmt).toContain('USING COVERING INDEX ocpp_outbox_status (status=?)');
      expect(plan(stmt), stmt).not.toMatch(/SCAN ocpp_outbox/);
    }
  });
  it('a repeat by content is the recorded row; a delivered start records the CMS id in the same commit', () => {
    const o = open();
    const start = { connectorId: 1, idTag: 'T', meterStart: 0, timestamp: '2026-01-05T08:00:00.000Z' };
    const input = {
      chargerId: 'C',
      protocol: 'ocpp1.6' as const,
      action: 'StartTransaction',
      payload: start,
      createdAt: 1,
      offline: true,
      sessionId: 'S1',
    };
    const key = contentKey('StartTransaction', start);
    expect(key).toBeDefined();
    expect(
      contentKey('StartTransaction', { timestamp: start.timestamp, meterStart: 0, idTag: 'T', connectorId: 1 }),
    ).toBe(key);
    expect(contentKey('StatusNotification', { connectorId: 1, status: 'Available' })).toBeUndefined();
    const first = o.append({ ...input, msgId: 'm1', contentKey: key as string });
    const again = o.append({ ...input, msgId: 'm2', sessionId: 'S2', contentKey: key as string });
    expect(first.repeat).toBe(false);
    expect(again).toMatchObject({ repeat: true, row: { seq: first.row.seq, msgId: 'm1', sessionId: 'S1' } });
    expect(o.counts().pending).toBe(1);

    const local = o.issueLocalTx(first.row.seq, 'S1');
    expect(local).toBeGreaterThanOrEqual(1_000_000_001);
    expect(o.startDelivered('C', first.row.seq, { transactionId: 42 }, 42, 10)).toBe(local);
    expect(o.upstreamTx('C', local)).toBe(42);
    expect(o.counts()).toMatchObject({ pending: 0, done: 1 });
  });

  it('a status is a repeat only of the latest status of its connector', () => {
    const o = open();
    const ts = '2026-01-05T08:00:00.000Z';
    const status = (connectorId: number, st: string) => ({
      connectorId,
      errorCode: 'NoError',
      status: st,
      timestamp: ts,
    });
    let n = 0;
    const send = (p: ReturnType<typeof status>) =>
      o.append({
        chargerId: 'C',
        protocol: 'ocpp1.6',
        action: 'StatusNotification',
        msgId: `m${++n}`,
        payload: p,
        createdAt: n,
        offline: false,
        contentKey: contentKey('StatusNotification', p) as string,
      });
    const a1 = send(status(1, 'Available'));
    // The charger's retry under a new message id: the recorded row.
    expect(send(status(1, 'Available'))).toMatchObject({ repeat: true, row: { seq: a1.row.seq, msgId: 'm1' } });
    // Another connector's status in between does not matter.
    expect(send(status(2, 'Available')).repeat).toBe(false);
    expect(send(status(1, 'Available')).repeat).toBe(true);
    // A flip and back within the same second: three messages.
    expect(send(status(1, 'Charging')).repeat).toBe(false);
    expect(send(status(1, 'Available')).repeat).toBe(false);
    expect(send(status(1, 'Available')).repeat).toBe(true);
    expect(o.counts().pending).toBe(4);
    // 2.x: the connector is the EVSE and its connector.
    const k2 = contentKey('StatusNotification', {
      evseId: 1,
      connectorId: 1,
      connectorStatus: 'Available',
      timestamp: ts,
    });
    expect(k2?.startsWith('sn:1/1:')).toBe(true);
  });
});
