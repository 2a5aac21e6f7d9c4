import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Gateway, createGateway } from '../../src/cli/compose.js';
import { SystemClock } from '../../src/model/clock.js';
import { createLogger, silentLogger } from '../../src/util/logger.js';
import { testConfig } from '../helpers/core.js';
import { type JsonCms, connectJsonCharger, startJsonCms, startWebhookSink } from './peers/ocpp-json.js';

/**
 * Session identity across gateway restarts on the same database, against a
 * CMS that issues the same 1.6 transaction ids again and a 2.0.1 charger
 * that reuses its own: every session is reported once with its own start,
 * energy and stop, the CMS only ever sees ids it issued, and the outage
 * replay drains within 5 s of the CMS link returning. Peers: plain ws + JSON.
 */

type Json = Record<string, unknown>;

async function until(cond: () => boolean, ms = 8000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ISO = (ms: number) => new Date(ms).toISOString();
const T0 = Date.parse('2026-01-05T08:00:00Z');

function energy16(wh: number, at: number): Json[] {
  return [
    {
      timestamp: ISO(at),
      sampledValue: [{ value: String(wh), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }],
    },
  ];
}

function energy201(wh: number, at: number): Json[] {
  return [{ timestamp: ISO(at), sampledValue: [{ value: wh, measurand: 'Energy.Active.Import.Register' }] }];
}

describe('session identity with repeated transaction ids', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup() {
    const dir = mkdtempSync(join(tmpdir(), 'gk-identity-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const hooks = await startWebhookSink();
    cleanups.push(() => hooks.stop());
    let cms = await startJsonCms({ firstTxId: 1 });
    const cmsPort = Number(new URL(cms.url).port);
    const cmsList: JsonCms[] = [cms];
    cleanups.push(() => cms.stop());
    let gw: Gateway | undefined;
    const startGateway = async () => {
      gw = createGateway(
        testConfig({
          store: { path: join(dir, 'gridkeeper.db') },
          api: { port: 0, anonymousRead: true },
          ocpp: {
            port: 0,
            unknownChargers: 'accept',
            forwardTimeoutMs: 1500,
            upstream: { url: cms.url, reconnectMinMs: 100, reconnectMaxMs: 300, pingIntervalMs: 0 },
          },
          integration: {
            webhooks: [
              {
                id: 'billing',
                url: hooks.url,
                events: ['session.started', 'session.stopped'],
                secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
              },
            ],
            webhookDelivery: { initialBackoffMs: 50, maxBackoffMs: 200 },
          },
        } as never),
        {
          clock: new SystemClock(),
          log: process.env.GK_DEBUG ? createLogger({ level: 'debug' } as never) : silentLogger(),
          env: {},
        },
      );
      await gw.start();
      return gw;
    };
    cleanups.push(async () => {
      await gw?.stop();
    });
    return {
      hooks,
      cmsList,
      cms: () => cms,
      gateway: () => gw as Gateway,
      startGateway,
      stopGateway: async () => {
        await gw?.stop();
        gw = undefined;
      },
      /** The CMS goes away; a fresh one (counting its ids from 1 again) comes back on the same address. */
      cmsDown: () => cms.stop(),
      cmsUp: async () => {
        cms = await startJsonCms({ port: cmsPort, firstTxId: 1 });
        cmsList.push(cms);
        return cms;
      },
      ocppUrl: (id: string) => `${(gw as Gateway).urls().ocpp}/${id}`,
      sessions: async (chargerId: string) => {
        const res = await fetch(`${(gw as Gateway).api()?.url()}/api/v1/sessions?chargerId=${chargerId}&limit=50`);
        const body = (await res.json()) as { items?: Json[]; data?: Json[] } | Json[];
        const items = Array.isArray(body) ? body : (body.items ?? body.data ?? []);
        return [...items].sort((a, b) => String(a.startedAt).localeCompare(String(b.startedAt)));
      },
    };
  }

  /** Every webhook of `type` about `chargerId`, by session id. */
  function hookCount(bodies: Json[], type: string, chargerId: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const b of bodies) {
      const d = b.data as Json;
      if (b.type !== type || d.chargerId !== chargerId) continue;
      out.set(String(d.sessionId), (out.get(String(d.sessionId)) ?? 0) + 1);
    }
    return out;
  }

  /** Transaction ids in charger messages a CMS received that it never issued. */
  function foreignIds(cms: JsonCms, chargerId: string): unknown[] {
    return cms.received
      .filter((r) => r.chargerId === chargerId && (r.action === 'MeterValues' || r.action === 'StopTransaction'))
      .map((r) => r.params.transactionId)
      .filter((tx) => tx !== undefined && !cms.issued.includes(tx as number));
  }

  it('1.6J: a CMS that issues the same ids again after a gateway restart gets new sessions, and the outage replay drains', async () => {
    const t = await setup();
    const id = 'cp16';
    await t.startGateway();
    let cp = await connectJsonCharger(t.ocppUrl(id), 'ocpp1.6');
    await cp.call('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'M1' });
    await until(() => t.cms().connected(id), 5000, 'CMS link');

    // Session 1: the CMS issues transaction id 1.
    const s1 = await cp.call('StartTransaction', {
      connectorId: 1,
      idTag: 'TAG1',
      meterStart: 1000,
      timestamp: ISO(T0),
    });
    expect(s1.transactionId).toBe(1);
    await cp.call('MeterValues', { connectorId: 1, transactionId: 1, meterValue: energy16(3000, T0 + 60_000) });
    await cp.call('StopTransaction', {
      transactionId: 1,
      meterStop: 5000,
      timestamp: ISO(T0 + 120_000),
      reason: 'Local',
    });
    await cp.close();
    await t.stopGateway();

    // The gateway restarts on its database; the CMS was restored and issues id 1 again.
    await t.cmsDown();
    await t.cmsUp();
    await t.startGateway();
    cp = await connectJsonCharger(t.ocppUrl(id), 'ocpp1.6');
    cleanups.push(() => cp.close());
    await cp.call('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'M1' });
    await until(() => t.cms().connected(id), 5000, 'CMS link');
    const s2 = await cp.call('StartTransaction', {
      connectorId: 1,
      idTag: 'TAG2',
      meterStart: 10_000,
      timestamp: ISO(T0 + 3_600_000),
    });
    expect(s2.transactionId).toBe(1);
    await cp.call('MeterValues', { connectorId: 1, transactionId: 1, meterValue: energy16(11_000, T0 + 3_660_000) });
    await cp.call('StopTransaction', {
      transactionId: 1,
      meterStop: 12_000,
      timestamp: ISO(T0 + 3_720_000),
      reason: 'Local',
    });

    // Outage: a session starts and stops while the CMS is away; the CMS that returns issues id 1 once more.
    await t.cmsDown();
    await until(() => !t.gateway().component<never>('ocpp') || true);
    await new Promise((r) => setTimeout(r, 200));
    const s3 = await cp.call('StartTransaction', {
      connectorId: 1,
      idTag: 'TAG3',
      meterStart: 20_000,
      timestamp: ISO(T0 + 7_200_000),
    });
    const local = s3.transactionId as number;
    expect(local).toBeGreaterThanOrEqual(1_000_000_001);
    await cp.call('MeterValues', {
      connectorId: 1,
      transactionId: local,
      meterValue: energy16(20_500, T0 + 7_260_000),
    });
    await cp.call('StopTransaction', {
      transactionId: local,
      meterStop: 21_000,
      timestamp: ISO(T0 + 7_320_000),
      reason: 'Local',
    });
    const cms3 = await t.cmsUp();
    await until(
      () => cms3.received.some((r) => r.chargerId === id && r.action === 'StopTransaction'),
      15_000,
      'replay',
    );
    const linkUp = cms3.connectedAt.get(id) as number;
    const drainedAt = (
      cms3.received.find((r) => r.chargerId === id && r.action === 'StopTransaction') as { at: number }
    ).at;
    expect(drainedAt - linkUp).toBeLessThan(5000);
    expect(cms3.issued).toEqual([1]);
    for (const c of t.cmsList) expect(foreignIds(c, id)).toEqual([]);

    // Three sessions, each once, each with its own start, energy and stop.
    await until(() => hookCount(t.hooks.bodies, 'session.stopped', id).size >= 3, 8000, 'stop webhooks').catch((e) => {
      console.log(
        JSON.stringify(t.hooks.bodies.map((b) => [b.type, (b.data as Json).sessionId, (b.data as Json).energyWh])),
      );
      throw e;
    });
    const sessions = await t.sessions(id);
    expect(sessions.map((s) => [s.energyWh, s.startedAt, s.stoppedAt])).toEqual([
      [4000, ISO(T0), ISO(T0 + 120_000)],
      [2000, ISO(T0 + 3_600_000), ISO(T0 + 3_720_000)],
      [1000, ISO(T0 + 7_200_000), ISO(T0 + 7_320_000)],
    ]);
    expect(new Set(sessions.map((s) => s.sessionId)).size).toBe(3);
    expect(sessions.map((s) => s.upstreamTransactionId)).toEqual(['1', '1', '1']);
    await new Promise((r) => setTimeout(r, 300));
    const started = hookCount(t.hooks.bodies, 'session.started', id);
    const stopped = hookCount(t.hooks.bodies, 'session.stopped', id);
    for (const s of sessions) {
      expect(started.get(String(s.sessionId))).toBe(1);
      expect(stopped.get(String(s.sessionId))).toBe(1);
    }
    expect(started.size).toBe(3);
    expect(stopped.size).toBe(3);
  }, 60_000);

  it('1.6J outage: offline start, CMS back, stop while online: the CMS sees only its own id, remote stop is mapped back', async () => {
    const t = await setup();
    const id = 'cp16b';
    await t.startGateway();
    const cp = await connectJsonCharger(t.ocppUrl(id), 'ocpp1.6');
    cleanups.push(() => cp.close());
    await cp.call('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'M1' });
    await until(() => t.cms().connected(id), 5000, 'CMS link');
    await t.cmsDown();
    await new Promise((r) => setTimeout(r, 200));
    const s = await cp.call('StartTransaction', { connectorId: 1, idTag: 'TAG', meterStart: 0, timestamp: ISO(T0) });
    const local = s.transactionId as number;
    expect(local).toBeGreaterThanOrEqual(1_000_000_001);
    await cp.call('MeterValues', { connectorId: 1, transactionId: local, meterValue: energy16(100, T0 + 10_000) });
    const cms = await t.cmsUp();
    await until(() => cms.connected(id), 5000, 'CMS link back');
    // Online again, possibly before the replay has delivered the start: these must wait behind it.
    await cp.call('MeterValues', { connectorId: 1, transactionId: local, meterValue: energy16(200, T0 + 20_000) });
    await until(() => cms.issued.length === 1, 5000, 'replayed start');
    const cmsTx = cms.issued[0] as number;
    await cms.call(id, 'SetChargingProfile', {
      connectorId: 1,
      csChargingProfiles: {
        chargingProfileId: 5,
        transactionId: cmsTx,
        stackLevel: 0,
        chargingProfilePurpose: 'TxProfile',
        chargingProfileKind: 'Absolute',
        chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }] },
      },
    });
    const txProfile = cp.received.find(
      (r) => r.action === 'SetChargingProfile' && (r.params.csChargingProfiles as Json).chargingProfileId === 5,
    );
    expect((txProfile?.params.csChargingProfiles as Json | undefined)?.transactionId).toBe(local);
    await cms.call(id, 'RemoteStopTransaction', { transactionId: cmsTx });
    const remoteStopTx = cp.received.find((r) => r.action === 'RemoteStopTransaction')?.params.transactionId;
    await cp.call('MeterValues', { connectorId: 1, transactionId: local, meterValue: energy16(300, T0 + 30_000) });
    await cp.call('StopTransaction', { transactionId: local, meterStop: 400, timestamp: ISO(T0 + 40_000) });
    await until(() => cms.received.some((r) => r.chargerId === id && r.action === 'StopTransaction'), 5000, 'stop');
    const txMsgs = cms.received.filter((r) => r.action === 'MeterValues' || r.action === 'StopTransaction');
    expect(txMsgs.map((r) => [r.action, r.params.transactionId])).toEqual([
      ['MeterValues', cmsTx],
      ['MeterValues', cmsTx],
      ['MeterValues', cmsTx],
      ['StopTransaction', cmsTx],
    ]);
    expect(remoteStopTx).toBe(local);
    const [session] = await t.sessions(id);
    expect(session?.upstreamTransactionId).toBe(String(cmsTx));
    expect(session?.energyWh).toBe(400);
  }, 60_000);

  it('2.0.1: a charger that reuses its transaction ids after a gateway restart gets new sessions; outage replay keeps seqNo order', async () => {
    const t = await setup();
    const id = 'cs201';
    const boot = { reason: 'PowerUp', chargingStation: { model: 'M2', vendorName: 'Acme' } };
    const te = (eventType: string, seqNo: number, wh: number, at: number, extra: Json = {}) => ({
      eventType,
      timestamp: ISO(at),
      triggerReason:
        eventType === 'Started' ? 'Authorized' : eventType === 'Ended' ? 'StopAuthorized' : 'MeterValuePeriodic',
      seqNo,
      transactionInfo: { transactionId: 'TX-1', chargingState: eventType === 'Ended' ? 'Idle' : 'Charging' },
      evse: { id: 1, connectorId: 1 },
      meterValue: energy201(wh, at),
      ...(eventType === 'Started' ? { idToken: { idToken: 'TAG', type: 'ISO14443' } } : {}),
      ...extra,
    });
    await t.startGateway();
    let cs = await connectJsonCharger(t.ocppUrl(id), 'ocpp2.0.1');
    await cs.call('BootNotification', boot);
    await until(() => t.cms().connected(id), 5000, 'CMS link');
    await cs.call('TransactionEvent', te('Started', 0, 1000, T0));
    await cs.call('TransactionEvent', te('Updated', 1, 2000, T0 + 60_000));
    await cs.call('TransactionEvent', te('Ended', 2, 3000, T0 + 120_000));
    await cs.close();
    await t.stopGateway();

    // After a factory reset the charger counts from TX-1 again.
    await t.startGateway();
    cs = await connectJsonCharger(t.ocppUrl(id), 'ocpp2.0.1');
    cleanups.push(() => cs.close());
    await cs.call('BootNotification', boot);
    await until(() => t.cms().connected(id), 5000, 'CMS link');
    await cs.call('TransactionEvent', te('Started', 0, 5000, T0 + 3_600_000));
    await cs.call('TransactionEvent', te('Ended', 1, 5500, T0 + 3_660_000));

    // Outage: started and updated offline, ended once the CMS is back.
    await t.cmsDown();
    await new Promise((r) => setTimeout(r, 200));
    await cs.call('TransactionEvent', te('Started', 0, 9000, T0 + 7_200_000));
    await cs.call('TransactionEvent', te('Updated', 1, 9500, T0 + 7_260_000));
    const cms = await t.cmsUp();
    await until(() => cms.connected(id), 5000, 'CMS link back');
    await cs.call('TransactionEvent', te('Ended', 2, 9800, T0 + 7_320_000));
    await until(() => cms.received.filter((r) => r.action === 'TransactionEvent').length === 3, 5000, 'replay');
    const events = cms.received.filter((r) => r.action === 'TransactionEvent');
    expect(
      events.map((r) => [r.params.seqNo, r.params.eventType, (r.params.transactionInfo as Json).transactionId]),
    ).toEqual([
      [0, 'Started', 'TX-1'],
      [1, 'Updated', 'TX-1'],
      [2, 'Ended', 'TX-1'],
    ]);
    expect(events[0]?.params.offline).toBe(true);
    expect(events[1]?.params.offline).toBe(true);
    expect((events[2]?.at as number) - (cms.connectedAt.get(id) as number)).toBeLessThan(5000);

    await until(() => hookCount(t.hooks.bodies, 'session.stopped', id).size >= 3, 8000, 'stop webhooks').catch((e) => {
      console.log(
        JSON.stringify(t.hooks.bodies.map((b) => [b.type, (b.data as Json).sessionId, (b.data as Json).energyWh])),
      );
      throw e;
    });
    const sessions = await t.sessions(id);
    expect(sessions.map((s) => [s.energyWh, s.startedAt, s.stoppedAt])).toEqual([
      [2000, ISO(T0), ISO(T0 + 120_000)],
      [500, ISO(T0 + 3_600_000), ISO(T0 + 3_660_000)],
      [800, ISO(T0 + 7_200_000), ISO(T0 + 7_320_000)],
    ]);
    await new Promise((r) => setTimeout(r, 300));
    const started = hookCount(t.hooks.bodies, 'session.started', id);
    const stopped = hookCount(t.hooks.bodies, 'session.stopped', id);
    expect([...started.values()]).toEqual([1, 1, 1]);
    expect([...stopped.values()]).toEqual([1, 1, 1]);
    expect(new Set(sessions.map((s) => s.sessionId))).toEqual(new Set(started.keys()));
  }, 60_000);
  it('1.6J repeats: a message the charger sends again (same id, or same content under a new id) reaches the CMS once', async () => {
    const t = await setup();
    const id = 'cp16r';
    await t.startGateway();
    const cp = await connectJsonCharger(t.ocppUrl(id), 'ocpp1.6');
    cleanups.push(() => cp.close());
    await cp.call('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'M1' });
    await until(() => t.cms().connected(id), 5000, 'CMS link');
    const start = { connectorId: 1, idTag: 'TAG', meterStart: 0, timestamp: ISO(T0) };
    const first = await cp.call('StartTransaction', start, 'start-1');
    expect(await cp.call('StartTransaction', start, 'start-1')).toEqual(first);
    expect(await cp.call('StartTransaction', start, 'start-1-retry')).toEqual(first);
    const tx = first.transactionId as number;
    const mv = { connectorId: 1, transactionId: tx, meterValue: energy16(500, T0 + 10_000) };
    await cp.call('MeterValues', mv, 'mv-1');
    await cp.call('MeterValues', mv, 'mv-1-retry');
    const stop = { transactionId: tx, meterStop: 900, timestamp: ISO(T0 + 20_000), reason: 'Local' };
    await cp.call('StopTransaction', stop, 'stop-1');
    await cp.call('StopTransaction', stop, 'stop-1-retry');
    await new Promise((r) => setTimeout(r, 300));
    const got = t.cms().received.filter((r) => r.chargerId === id && r.action !== 'BootNotification');
    expect(got.map((r) => [r.action, r.msgId])).toEqual([
      ['StartTransaction', 'start-1'],
      ['MeterValues', 'mv-1'],
      ['StopTransaction', 'stop-1'],
    ]);
    const sessions = await t.sessions(id);
    expect(sessions.map((s) => [s.energyWh, s.stopReason])).toEqual([[900, 'Local']]);
  }, 30_000);

  it('a start on a connector that still has an open session closes that one as superseded, with its last energy', async () => {
    const t = await setup();
    const id = 'cp16s';
    await t.startGateway();
    const cp = await connectJsonCharger(t.ocppUrl(id), 'ocpp1.6');
    cleanups.push(() => cp.close());
    await cp.call('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'M1' });
    await until(() => t.cms().connected(id), 5000, 'CMS link');
    const a = await cp.call('StartTransaction', { connectorId: 1, idTag: 'A', meterStart: 100, timestamp: ISO(T0) });
    await cp.call('MeterValues', {
      connectorId: 1,
      transactionId: a.transactionId,
      meterValue: energy16(700, T0 + 60_000),
    });
    // The charger lost the stop (e.g. a reset) and starts anew on the same connector.
    await cp.call('StartTransaction', { connectorId: 1, idTag: 'B', meterStart: 800, timestamp: ISO(T0 + 120_000) });
    await until(() => hookCount(t.hooks.bodies, 'session.stopped', id).size === 1, 8000, 'superseded webhook');
    const sessions = await t.sessions(id);
    expect(sessions.map((s) => [s.idTag, s.stopReason, s.energyWh, s.stoppedAt])).toEqual([
      ['A', 'superseded', 600, ISO(T0 + 120_000)],
      ['B', null, 0, null],
    ]);
    const stoppedHook = t.hooks.bodies.find((b) => b.type === 'session.stopped')?.data as Json;
    expect(stoppedHook).toMatchObject({ stopReason: 'superseded', sessionId: sessions[0]?.sessionId });
  }, 30_000);
});
