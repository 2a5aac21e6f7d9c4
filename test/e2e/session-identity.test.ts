import { afterEach, describe, expect, it } from 'vitest';
import {
  ISO,
  type Json,
  T0,
  energy16,
  energy201,
  foreignIds,
  hookCount,
  identityStack,
  until,
} from './identity-stack.js';
import { connectJsonCharger } from './peers/ocpp-json.js';

/**
 * Session identity across gateway restarts on the same database, against a
 * CMS that issues the same 1.6 transaction ids again and a 2.0.1 charger
 * that reuses its own: every session is reported once with its own start,
 * energy and stop, the CMS only ever sees ids it issued, and the outage
 * replay drains within 5 s of the CMS link returning. Peers: plain ws + JSON.
 */

describe('session identity with repeated transaction ids', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('1.6J: a CMS that issues the same ids again after a gateway restart gets new sessions, and the outage replay drains', async () => {
    const t = await identityStack(cleanups);
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
    // Each repeat said once, naming the new session and the earlier one.
    const repeats = t.logs.filter((l) => String(l.msg).startsWith('transaction id seen before'));
    expect(repeats.map((l) => [l.session, l.earlierSession])).toEqual([
      [sessions[1]?.sessionId, sessions[0]?.sessionId],
      [sessions[2]?.sessionId, sessions[1]?.sessionId],
    ]);
  }, 60_000);

  it('1.6J outage: offline start, CMS back, stop while online: the CMS sees only its own id, remote stop is mapped back', async () => {
    const t = await identityStack(cleanups);
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
    const t = await identityStack(cleanups);
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
    const repeats = t.logs.filter((l) => String(l.msg).startsWith('transaction id seen before'));
    expect(repeats.map((l) => [l.transactionId, l.session, l.earlierSession])).toEqual([
      ['TX-1', sessions[1]?.sessionId, sessions[0]?.sessionId],
      ['TX-1', sessions[2]?.sessionId, sessions[1]?.sessionId],
    ]);
  }, 60_000);
});
