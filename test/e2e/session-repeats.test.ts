import { afterEach, describe, expect, it } from 'vitest';
import { ISO, type Json, T0, energy16, hookCount, identityStack, until } from './identity-stack.js';
import { connectJsonCharger } from './peers/ocpp-json.js';

/**
 * Repeats and superseded starts through a whole gateway (`createGateway`):
 * a charger's repeat of a transaction message reaches the CMS once, under
 * its first message id; a start on a connector that still has an open
 * session closes that one as superseded. Peers: plain ws + JSON.
 */

describe('session repeats and superseded starts', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('1.6J repeats: a message the charger sends again (same id, or same content under a new id) reaches the CMS once', async () => {
    const t = await identityStack(cleanups);
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
    const t = await identityStack(cleanups);
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
    expect(
      t.logs.filter((l) => l.msg === 'open session superseded by a new start').map((l) => [l.session, l.supersededBy]),
    ).toEqual([[sessions[0]?.sessionId, sessions[1]?.sessionId]]);
    expect(stoppedHook).toMatchObject({ stopReason: 'superseded', sessionId: sessions[0]?.sessionId });
  }, 30_000);
});
