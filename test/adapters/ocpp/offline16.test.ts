import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/model/clock.js';
import { SimCharger } from '../../../sim/devices/ocpp/charger.js';
import { SimVehicle } from '../../../sim/site/vehicle.js';
import { endOutage, perTest, rawCharger, type startStack, waitFor, byTx, txRef } from './helpers.js';

function vehicle(clock: VirtualClock): SimVehicle {
  return new SimVehicle(
    { id: 'EV', capacityWh: 60_000, socPct: 20, maxCurrentA: 16, phases: 3, responseDelayMs: 0 },
    clock.now(),
  );
}

describe('OCPP 1.6J proxy, CMS unreachable', () => {
  const t = perTest();

  async function bootedCharger(id: string, extra: Parameters<typeof startStack>[0] = {}) {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    const stack = await t.start({ clock, chargers: [{ id }], ...extra });
    const charger = t.add(
      new SimCharger({ id, protocol: 'ocpp1.6', url: stack.proxy.url(), clock, meterIntervalMs: 60_000 }),
    );
    await charger.start();
    const s = stack;
    await waitFor(() => charger?.booted === true && s.proxy.upstreamOnline(id), { what: 'boot' });
    return { ...stack, clock, charger };
  }

  it('serves a whole session locally during an outage, then replays it in order with the CMS transaction id', async () => {
    const { clock, core, proxy, cms, charger: cp } = await bootedCharger('OFF1');
    await cms.setOutage(true);
    await waitFor(() => !proxy.upstreamOnline('OFF1'), { what: 'upstream down' });

    await cp.plugIn(vehicle(clock), 'TAG-OFF');
    const localTx = cp.connectors[0]?.txId as number;
    expect(localTx).toBeGreaterThan(1_000_000_000); // gateway-issued, never -1 or 0
    const sid = txRef('OFF1', localTx);
    expect(byTx(core, sid)).toMatchObject({ syncState: 'pending', idTag: 'TAG-OFF' });
    expect(byTx(core, sid)?.upstreamTransactionId).toBeUndefined();

    // Three minutes of charging with meter values every minute, then the driver leaves. Reconnect attempts keep failing.
    const until = clock.now() + 180_000;
    await waitFor(() => clock.now() >= until && cp.backlog === 0, {
      clock,
      advanceMs: 1000,
      what: 'meter values answered locally',
    });
    await cp.unplug(1);
    expect(cms.received('StartTransaction')).toHaveLength(0);
    expect(proxy.outbox.counts().pending).toBeGreaterThanOrEqual(6);

    await endOutage({ cms, proxy }, clock, { timeoutMs: 10_000 });

    const cmsTx = [...cms.transactions.values()];
    expect(cmsTx).toHaveLength(1);
    const upstreamId = cmsTx[0]?.id as number;
    expect(upstreamId).not.toBe(localTx);
    const txMsgs = cms.records.filter((r) => ['StartTransaction', 'MeterValues', 'StopTransaction'].includes(r.action));
    expect(txMsgs.map((r) => r.action)).toEqual([
      'StartTransaction',
      'MeterValues',
      'MeterValues',
      'MeterValues',
      'StopTransaction',
    ]);
    for (const r of txMsgs.slice(1)) expect(r.payload.transactionId).toBe(upstreamId);
    expect(cmsTx[0]).toMatchObject({ stopped: true, idTag: 'TAG-OFF' });
    // Meter start/stop are the charger's register values (the session is not billed from a lifetime reading).
    expect((cmsTx[0]?.meterStop ?? 0) - (cmsTx[0]?.meterStart ?? 0)).toBeCloseTo(byTx(core, sid)?.energyWh ?? -1, 0);
    expect(cms.records.some((r) => r.duplicate)).toBe(false);
    // Status notifications queued during the outage were delivered too, in their place in the order.
    expect(cms.received('StatusNotification').length).toBeGreaterThanOrEqual(3);
    await waitFor(() => byTx(core, sid)?.syncState === 'synced', { what: 'synced' });
    expect(byTx(core, sid)?.upstreamTransactionId).toBe(String(upstreamId));
  });

  it('treats a CMS that stops answering like an outage: local answers, link reopened, nothing parked', async () => {
    const {
      clock,
      core,
      cms,
      proxy,
      charger: cp,
    } = await bootedCharger('HUNG', {
      ocpp: { forwardTimeoutMs: 2000 },
      upstream: { callTimeoutMs: 5000, reconnectMinMs: 1000, reconnectMaxMs: 2000 },
    });
    await cms.setOutage(true, 'silent');
    // Every answer now waits for the forward timeout on the virtual clock: let time run while the session starts.
    let started = false;
    void cp.plugIn(vehicle(clock), 'TAG-H').then(() => {
      started = true;
    });
    const until = clock.now() + 120_000;
    await waitFor(() => started && clock.now() >= until && cp.backlog === 0, {
      clock,
      advanceMs: 500,
      timeoutMs: 15_000,
      what: 'local answers',
    });
    const tx = cp.connectors[0]?.txId as number;
    expect(tx).toBeGreaterThan(1_000_000_000);
    expect(proxy.outbox.counts().poison).toBe(0);
    await endOutage({ cms, proxy }, clock, { advanceMs: 500, timeoutMs: 15_000 });
    expect(proxy.outbox.counts().poison).toBe(0);
    expect(cms.transactions.size).toBe(1);
    expect(cms.received('MeterValues').every((r) => r.payload.transactionId === [...cms.transactions.keys()][0])).toBe(
      true,
    );
    await waitFor(() => byTx(core, txRef('HUNG', tx))?.syncState === 'synced', { what: 'synced' });
  });

  it('can coalesce a meter-value backlog into fewer frames on replay (replay.batchMeterValues)', async () => {
    const {
      clock,
      cms,
      proxy,
      charger: cp,
    } = await bootedCharger('BAT1', { ocpp: { replay: { batchMeterValues: 10 } } });
    await cms.setOutage(true);
    await waitFor(() => !proxy.upstreamOnline('BAT1'), { what: 'upstream down' });
    await cp.plugIn(vehicle(clock), 'TAG-B');
    const until = clock.now() + 240_000;
    await waitFor(() => clock.now() >= until && cp.backlog === 0, { clock, advanceMs: 1000, what: 'backlog' });
    await endOutage({ cms, proxy }, clock);
    const mv = cms.received('MeterValues');
    expect(mv).toHaveLength(1);
    expect(mv[0]?.payload.meterValue as unknown[]).toHaveLength(4);
    expect(mv[0]?.payload.transactionId).toBe([...cms.transactions.values()][0]?.id);
  });

  it('keeps a session started online going through an outage; the CMS later gets the stop with its own id', async () => {
    const { clock, cms, proxy, charger: cp } = await bootedCharger('OFF2');
    await cp.plugIn(vehicle(clock), 'TAG-2');
    const tx = cp.connectors[0]?.txId as number;
    expect(cms.transactions.has(tx)).toBe(true);
    await cms.setOutage(true);
    await waitFor(() => !proxy.upstreamOnline('OFF2'), { what: 'upstream down' });
    const until = clock.now() + 60_000;
    await waitFor(() => clock.now() >= until && cp.backlog === 0, { clock, advanceMs: 1000, what: 'local answer' });
    await cp.unplug(1);
    await cms.setOutage(false);
    await waitFor(() => cms.transactions.get(tx)?.stopped === true, { clock, advanceMs: 200, what: 'stop replayed' });
    expect(cms.received('StopTransaction')[0]?.payload.transactionId).toBe(tx);
  });

  it('answers a repeated message (same id) from the outbox without queuing it twice', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    const stack = await t.start({ clock, chargers: [{ id: 'REP1' }] });
    const { cms, proxy } = stack;
    // A raw charger resends a frame verbatim, as a charger does that never saw the answer.
    const cp = await rawCharger(`${proxy.url()}/REP1`);
    try {
      await waitFor(() => proxy.upstreamOnline('REP1'), { what: 'upstream up' });
      await cms.setOutage(true);
      await waitFor(() => !proxy.upstreamOnline('REP1'), { what: 'upstream down' });
      const ts = new Date(clock.now()).toISOString();
      const start = JSON.stringify([
        2,
        'same-id',
        'StartTransaction',
        { connectorId: 1, idTag: 'T', meterStart: 100, timestamp: ts },
      ]);
      const [, , a] = (await cp.send(start)) as [number, string, { transactionId: number }];
      const [, , b] = (await cp.send(start)) as [number, string, { transactionId: number }];
      expect(a.transactionId).toBeGreaterThan(0);
      expect(b.transactionId).toBe(a.transactionId);
      const stop = JSON.stringify([
        2,
        'stop-id',
        'StopTransaction',
        { transactionId: a.transactionId, meterStop: 900, timestamp: ts, reason: 'Local' },
      ]);
      expect((await cp.send(stop))[0]).toBe(3);
      expect((await cp.send(stop))[0]).toBe(3);
      expect(proxy.outbox.pending('REP1').filter((r) => r.action === 'StartTransaction')).toHaveLength(1);
      await endOutage({ cms, proxy }, clock);
      expect(cms.received('StartTransaction')).toHaveLength(1);
      expect(cms.received('StartTransaction')[0]?.messageId).toBe('same-id');
      // No duplicated stop either.
      expect(cms.received('StopTransaction')).toHaveLength(1);
      expect(cms.received('StopTransaction')[0]?.payload.transactionId).toBe([...cms.transactions.keys()][0]);
    } finally {
      cp.ws.close();
    }
  });

  it('parks a message the CMS keeps refusing (poison) and delivers the rest behind it', async () => {
    const {
      clock,
      core,
      cms,
      proxy,
      charger: cp,
    } = await bootedCharger('PSN1', { ocpp: { replay: { maxAttempts: 3, retryMinMs: 100, retryMaxMs: 400 } } });
    await cms.setOutage(true);
    await waitFor(() => !proxy.upstreamOnline('PSN1'), { what: 'upstream down' });
    await cp.plugIn(vehicle(clock), 'TAG-P');
    const sid = txRef('PSN1', cp.connectors[0]?.txId);
    await cp.unplug(1);
    cms.failNext('StartTransaction', 'InternalError', 100);
    await cms.setOutage(false);
    await waitFor(() => proxy.outbox.counts().pending === 0, {
      clock,
      advanceMs: 100,
      timeoutMs: 10_000,
      what: 'queue moves on',
    });
    const parked = proxy.outbox.poisoned();
    expect(parked.map((r) => r.action).sort()).toEqual(['StartTransaction', 'StopTransaction']);
    expect(parked.find((r) => r.action === 'StartTransaction')?.attempts).toBe(3);
    // The stop of a transaction the CMS never accepted is parked without being sent (no ghost stop).
    expect(cms.received('StopTransaction')).toHaveLength(0);
    // Status notifications behind the poison message were delivered.
    expect(cms.received('StatusNotification').length).toBeGreaterThan(0);
    expect(byTx(core, sid)?.syncState).toBe('failed');
    const metrics = await core.metrics.getSingleMetricAsString('gridkeeper_ocpp_outbox_messages');
    expect(metrics).toContain('status="poison"} 2');

    // The operator fixed the cause at the CMS: parked messages go out again, start first, the stop remapped.
    cms.failNext('StartTransaction', 'InternalError', 0);
    expect(proxy.retryParked(parked.map((r) => r.seq))).toBe(2);
    await waitFor(() => cms.received('StopTransaction').length === 1, { clock, advanceMs: 100, what: 'requeued' });
    expect(cms.received('StopTransaction')[0]?.payload.transactionId).toBe([...cms.transactions.keys()][0]);
    await waitFor(() => byTx(core, sid)?.syncState === 'synced', { what: 'synced after retry' });
  });
});
