import { describe, expect, it } from 'vitest';
import type { EvChargingNeeds, SessionInfo } from '../../../src/model/events.js';
import { VirtualClock } from '../../../src/model/clock.js';
import { SimCharger } from '../../../sim/devices/ocpp/charger.js';
import { SitePhysics } from '../../../sim/site/physics.js';
import { SimVehicle } from '../../../sim/site/vehicle.js';
import { perTest, waitFor, byTx, txRef } from './helpers.js';

function vehicle(clock: VirtualClock, extra: Partial<ConstructorParameters<typeof SimVehicle>[0]> = {}): SimVehicle {
  return new SimVehicle(
    { id: 'EV', capacityWh: 60_000, socPct: 30, maxCurrentA: 16, phases: 3, responseDelayMs: 0, ...extra },
    clock.now(),
  );
}

describe('OCPP 2.0.1 / 2.1 proxy', () => {
  const t = perTest();

  /** What the proxy hands the fleet inputs (its `onEvChargingNeeds` dependency). */
  let needs: EvChargingNeeds[] = [];

  async function boot(protocol: 'ocpp2.0.1' | 'ocpp2.1', id: string, opts: { bidirectional?: boolean } = {}) {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    needs = [];
    const stack = await t.start({
      clock,
      chargers: [{ id, bidirectional: opts.bidirectional ?? false }],
      hooks: { onEvChargingNeeds: (n) => needs.push(n) },
    });
    const physics = new SitePhysics({ clock });
    const charger = t.add(
      new SimCharger({
        id,
        protocol,
        url: stack.proxy.url(),
        clock,
        physics,
        meterIntervalMs: 10_000,
        bidirectional: opts.bidirectional ?? false,
      }),
    );
    await charger.start();
    const s = stack;
    await waitFor(() => charger?.booted === true && s.proxy.upstreamOnline(id), { what: 'boot' });
    return { ...stack, clock, charger, physics };
  }

  it('2.0.1: forwards TransactionEvents and charging needs, tracks the session, writes a ChargingStationMaxProfile', async () => {
    const { clock, core, cms, charger: cp } = await boot('ocpp2.0.1', 'V2A');
    const stopped: SessionInfo[] = [];
    core.bus.on('session.stopped', (s) => stopped.push(s));
    const departureAt = clock.now() + 4 * 3_600_000;
    await cp.plugIn(vehicle(clock, { neededWh: 20_000, departureAt }), 'TOKEN-1');
    await waitFor(() => cms.received('TransactionEvent').length >= 1 && needs.length === 1, { what: 'start' });
    expect(cms.received('BootNotification', 'V2A')).toHaveLength(1);
    expect(cms.received('NotifyEVChargingNeeds')).toHaveLength(1);
    expect(needs[0]).toMatchObject({ evseId: 'V2A/1', energyWh: 20_000, departureAt, dischargeAllowed: false });
    const started = cms.received('TransactionEvent')[0]?.payload;
    expect(started).toMatchObject({ eventType: 'Started', seqNo: 0 });
    expect(started?.offline).toBeUndefined();
    const txId = (started?.transactionInfo as { transactionId: string } | undefined)?.transactionId;
    const sid = txRef('V2A', txId);
    await waitFor(() => byTx(core, sid)?.syncState === 'synced', { what: 'session synced' });
    expect(byTx(core, sid)).toMatchObject({ idTag: 'TOKEN-1', upstreamTransactionId: txId, connectorId: 1 });

    await waitFor(() => (core.state.evse('V2A/1')?.powerW?.value ?? 0) > 10_000, {
      clock,
      advanceMs: 1000,
      what: 'meter via TransactionEvent Updated',
    });
    expect(core.state.evse('V2A/1')?.status).toBe('Charging');
    expect(byTx(core, sid)?.energyWh).toBeGreaterThan(0);

    core.dispatcher.dispatch([{ evseId: 'V2A/1', currentA: 12, powerW: 8280, phases: 3, reasons: [] }]);
    await waitFor(() => core.dispatcher.lastSent('V2A/1') !== undefined, { what: 'profile' });
    expect(cp.profiles.find((p) => p.purpose === 'ChargingStationMaxProfile')).toMatchObject({
      stackLevel: 9,
      limit: 12,
      connectorId: 0,
    });
    expect(cp.effectiveLimitA(cp.connectors[0] as never)).toBe(12);

    const res = await cms.call('V2A', 'RequestStopTransaction', { transactionId: txId });
    expect(res.status).toBe('Accepted');
    await waitFor(
      () => stopped.length === 1 && cms.received('TransactionEvent').some((r) => r.payload.eventType === 'Ended'),
      { clock, advanceMs: 1, what: 'stop' },
    );
    const events = cms.received('TransactionEvent').map((r) => r.payload);
    expect(events.at(-1)).toMatchObject({ eventType: 'Ended', triggerReason: 'RemoteStop' });
    expect(events.map((e) => e.seqNo)).toEqual(events.map((_, i) => i));
    await waitFor(() => byTx(core, sid)?.syncState === 'synced', { what: 'synced' });
    expect(byTx(core, sid)?.stoppedAt).toBeDefined();
  });

  it('2.0.1: events of an outage are replayed in order with seqNo kept and the offline flag set', async () => {
    const { clock, core, cms, proxy, charger: cp } = await boot('ocpp2.0.1', 'V2B');
    await cms.setOutage(true);
    await waitFor(() => !proxy.upstreamOnline('V2B'), { what: 'down' });
    await cp.plugIn(vehicle(clock), 'TOKEN-2');
    const until = clock.now() + 30_000;
    await waitFor(() => clock.now() >= until && cp.backlog === 0, { clock, advanceMs: 1000, what: 'updates answered' });
    await cp.unplug(1);
    await waitFor(() => cp.backlog === 0, { what: 'ended answered' });
    expect(cms.received('TransactionEvent')).toHaveLength(0);
    await cms.setOutage(false);
    await waitFor(() => proxy.outbox.counts().pending === 0, { clock, advanceMs: 200, what: 'replay' });
    const events = cms.received('TransactionEvent').map((r) => r.payload);
    expect(events.length).toBeGreaterThanOrEqual(5);
    expect(events[0]?.eventType).toBe('Started');
    expect(events.at(-1)?.eventType).toBe('Ended');
    expect(events.map((e) => e.seqNo)).toEqual(events.map((_, i) => i));
    for (const e of events) expect(e.offline).toBe(true);
    expect(new Set(events.map((e) => (e.transactionInfo as { transactionId: string }).transactionId)).size).toBe(1);
    expect(cms.records.some((r) => r.duplicate)).toBe(false);
    const sid = txRef('V2B', (events[0]?.transactionInfo as { transactionId: string } | undefined)?.transactionId);
    await waitFor(() => byTx(core, sid)?.syncState === 'synced', { what: 'synced' });
  });

  it('2.1 V2G: needs with discharge allowed reach the fleet inputs; a negative set-point becomes a discharge setpoint', async () => {
    const { clock, core, cms, charger: cp, physics } = await boot('ocpp2.1', 'V21', { bidirectional: true });
    await cp.plugIn(vehicle(clock, { bidirectional: true, neededWh: 10_000 }), 'TOKEN-3');
    await waitFor(() => needs.length === 1 && cms.received('TransactionEvent').length >= 1, { what: 'needs' });
    expect(needs[0]).toMatchObject({ dischargeAllowed: true, transferMode: 'AC_BPT' });
    expect(cms.received('NotifyEVChargingNeeds')[0]?.protocol).toBe('ocpp2.1');

    core.dispatcher.dispatch([{ evseId: 'V21/1', currentA: 7.2, powerW: -5000, phases: 3, reasons: [] }]);
    await waitFor(() => core.dispatcher.lastSent('V21/1') !== undefined, { what: 'v2g set-point' });
    const sent = cp.received.filter((r) => r.action === 'SetChargingProfile').at(-1)?.params as {
      evseId: number;
      chargingProfile: {
        chargingProfilePurpose: string;
        chargingSchedule: Array<{ chargingSchedulePeriod: unknown[] }>;
      };
    };
    expect(sent.evseId).toBe(1);
    expect(sent.chargingProfile.chargingProfilePurpose).toBe('TxDefaultProfile');
    expect(sent.chargingProfile.chargingSchedule[0]?.chargingSchedulePeriod[0]).toMatchObject({
      setpoint: -5000,
      dischargeLimit: -5000,
    });
    await waitFor(() => (core.state.evse('V21/1')?.powerW?.value ?? 0) < -4000, {
      clock,
      advanceMs: 1000,
      what: 'discharge measured',
    });
    expect(physics.controllableW()).toBeCloseTo(-5000, -1);
  });
});
