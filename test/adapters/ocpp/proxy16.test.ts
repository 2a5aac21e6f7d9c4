import { describe, expect, it } from 'vitest';
import type { SessionInfo } from '../../../src/bus/events.js';
import { VirtualClock } from '../../../src/model/clock.js';
import { SimCharger } from '../../../sim/devices/ocpp/charger.js';
import { SitePhysics } from '../../../sim/site/physics.js';
import { SimVehicle } from '../../../sim/site/vehicle.js';
import { perTest, waitFor, byTx, txRef } from './helpers.js';

function vehicle(clock: VirtualClock, id = 'EV1'): SimVehicle {
  return new SimVehicle(
    { id, capacityWh: 60_000, socPct: 20, maxCurrentA: 16, phases: 3, responseDelayMs: 0 },
    clock.now(),
  );
}

describe('OCPP 1.6J proxy, CMS reachable', () => {
  const t = perTest();

  it('forwards boot, authorisation, transaction and meter values both ways and tracks the session', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    const stack = await t.start({ clock, chargers: [{ id: 'CP1', phaseRotation: 'L2L3L1' }] });
    const { core, proxy, cms } = stack;
    const physics = new SitePhysics({ clock });
    const events: string[] = [];
    const started: SessionInfo[] = [];
    core.bus.on('evse.spec', (s) => events.push(`spec:${s.id}`));
    core.bus.on('device', (d) => events.push(`device:${d.id}:${d.online}`));
    core.bus.on('session.started', (s) => started.push(s));

    const charger = t.add(
      new SimCharger({
        id: 'CP1',
        protocol: 'ocpp1.6',
        url: proxy.url(),
        clock,
        physics,
        meterIntervalMs: 10_000,
        // As an installed site configures it: per-phase currents besides the factory energy and power.
        sampledData: ['Energy.Active.Import.Register', 'Power.Active.Import', 'Current.Import'],
      }),
    );
    await charger.start();
    await waitFor(() => charger?.booted === true, { what: 'boot' });
    expect(cms.received('BootNotification', 'CP1')).toHaveLength(1);
    expect(events).toContain('spec:CP1/1');
    expect(events).toContain('device:CP1:true');
    expect(core.state.evse('CP1/1')?.phaseRotation).toBe('L2L3L1');
    await waitFor(() => core.state.evse('CP1/1')?.status === 'Available', { what: 'status' });

    await charger.plugIn(vehicle(clock), 'TAG-1');
    await waitFor(() => cms.received('StartTransaction').length === 1, { what: 'start' });
    const cmsTx = [...cms.transactions.values()][0];
    expect(cmsTx?.idTag).toBe('TAG-1');
    expect(charger.connectors[0]?.txId).toBe(cmsTx?.id);
    await waitFor(() => started.length === 1, { what: 'session' });
    const sid = txRef('CP1', cmsTx?.id);
    expect(byTx(core, sid)).toMatchObject({
      chargerId: 'CP1',
      connectorId: 1,
      idTag: 'TAG-1',
      syncState: 'synced',
    });
    expect(byTx(core, sid)?.upstreamTransactionId).toBe(String(cmsTx?.id));
    await waitFor(() => core.state.evse('CP1/1')?.status === 'Charging', { what: 'charging status' });
    expect(core.state.evse('CP1/1')).toMatchObject({ sessionId: byTx(core, sid)?.id, idTag: 'TAG-1' });

    // Ten virtual seconds: the charger draws and sends MeterValues, which reach the CMS with its transaction id.
    await waitFor(() => cms.received('MeterValues').length >= 1, { clock, advanceMs: 1000, what: 'meter values' });
    const mv = cms.received('MeterValues')[0]?.payload;
    expect(mv?.transactionId).toBe(cmsTx?.id);
    await waitFor(() => (core.state.evse('CP1/1')?.powerW?.value ?? 0) > 10_000, { what: 'evse power' });
    expect(core.state.evse('CP1/1')?.currentsA?.value[0]).toBeCloseTo(16, 0);

    // The CMS stops the session remotely; the stop comes back through the proxy.
    const res = await cms.call('CP1', 'RemoteStopTransaction', { transactionId: cmsTx?.id as number });
    expect(res.status).toBe('Accepted');
    await waitFor(() => cms.received('StopTransaction').length === 1, { clock, advanceMs: 1, what: 'stop' });
    expect(cms.transactions.get(cmsTx?.id as number)?.stopped).toBe(true);
    await waitFor(() => byTx(core, sid)?.stoppedAt !== undefined && byTx(core, sid)?.syncState === 'synced', {
      what: 'session stop synced',
    });
    expect(byTx(core, sid)).toMatchObject({ syncState: 'synced', stopReason: 'Remote' });
    expect(byTx(core, sid)?.energyWh).toBeGreaterThan(0);
    expect(cms.records.some((r) => r.duplicate)).toBe(false);
  });

  it('writes the gateway max profile via the dispatcher sink, merges a CMS max profile and passes TxProfiles through', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    const stack = await t.start({ clock, chargers: [{ id: 'CP2' }] });
    const { core, proxy, cms } = stack;
    const charger = t.add(new SimCharger({ id: 'CP2', protocol: 'ocpp1.6', url: proxy.url(), clock }));
    await charger.start();
    await waitFor(() => charger?.booted === true && cms.connectedIds().includes('CP2'), { what: 'boot' });

    core.dispatcher.dispatch([{ evseId: 'CP2/1', currentA: 10, powerW: 6900, phases: 3, reasons: [] }]);
    await waitFor(() => core.dispatcher.lastSent('CP2/1') !== undefined, { what: 'set-point confirmed' });
    const gw = charger.profiles.find((p) => p.purpose === 'ChargePointMaxProfile');
    expect(gw).toMatchObject({ stackLevel: 9, limit: 10, connectorId: 0 });
    // Gateway-originated calls never reach the CMS.
    expect(cms.records.map((r) => r.action)).not.toContain('SetChargingProfile');

    const maxProfile = {
      connectorId: 0,
      csChargingProfiles: {
        chargingProfileId: 7,
        stackLevel: 0,
        chargingProfilePurpose: 'ChargePointMaxProfile',
        chargingProfileKind: 'Absolute',
        chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 8 }] },
      },
    };
    expect((await cms.call('CP2', 'SetChargingProfile', maxProfile)).status).toBe('Accepted');
    // Merged: the charger holds one max profile, at the gateway's level, with the minimum of both.
    const maxes = charger.profiles.filter((p) => p.purpose === 'ChargePointMaxProfile');
    expect(maxes).toHaveLength(1);
    expect(maxes[0]).toMatchObject({ stackLevel: 9, limit: 8 });

    const txProfile = {
      connectorId: 1,
      csChargingProfiles: {
        chargingProfileId: 12,
        stackLevel: 2,
        chargingProfilePurpose: 'TxDefaultProfile',
        chargingProfileKind: 'Relative',
        chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 13 }] },
      },
    };
    expect((await cms.call('CP2', 'SetChargingProfile', txProfile)).status).toBe('Accepted');
    const last = charger.received.at(-1);
    expect(last?.action).toBe('SetChargingProfile');
    expect(last?.params).toEqual(txProfile);

    // A higher site set-point is capped by the CMS max profile.
    core.dispatcher.dispatch([{ evseId: 'CP2/1', currentA: 20, powerW: 13800, phases: 3, reasons: [] }]);
    await waitFor(() => core.dispatcher.lastSent('CP2/1')?.currentA === 20, { what: 'raise' });
    expect(charger.profiles.find((p) => p.purpose === 'ChargePointMaxProfile')?.limit).toBe(8);
    expect(stack.proxy.outbox.cmsCap('CP2')?.capA).toBe(8); // survives a gateway restart

    // The CMS clears its max profile: the merge is lifted, the gateway's own profile stays.
    expect(
      (await cms.call('CP2', 'ClearChargingProfile', { chargingProfilePurpose: 'ChargePointMaxProfile' })).status,
    ).toBe('Accepted');
    expect(charger.profiles.find((p) => p.purpose === 'ChargePointMaxProfile')).toMatchObject({
      stackLevel: 9,
      limit: 20,
    });
    expect(stack.proxy.outbox.cmsCap('CP2')).toBeUndefined();
    expect(charger.profiles.find((p) => p.purpose === 'TxDefaultProfile')?.limit).toBe(13);
  });

  it('the simulated charger ends the session when the vehicle is full', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    const stack = await t.start({ clock, chargers: [{ id: 'FULL' }] });
    const { cms, proxy, core } = stack;
    const charger = t.add(new SimCharger({ id: 'FULL', protocol: 'ocpp1.6', url: proxy.url(), clock }));
    await charger.start();
    await waitFor(() => charger?.booted === true && proxy.upstreamOnline('FULL'), { what: 'boot' });
    const ev = new SimVehicle(
      { id: 'EV', capacityWh: 10_000, socPct: 99, maxCurrentA: 16, phases: 3, responseDelayMs: 0 },
      clock.now(),
    );
    await charger.plugIn(ev, 'TAG-F');
    await waitFor(() => cms.received('StopTransaction').length === 1, {
      clock,
      advanceMs: 1000,
      what: 'stop when full',
    });
    expect(ev.full).toBe(true);
    expect(cms.received('StopTransaction')[0]?.payload.reason).toBe('EVDisconnected');
    await waitFor(() => core.state.evse('FULL/1')?.status === 'Available', { what: 'available again' });
  });

  it('passes CMS calls through with their message id and relays the charger answer', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    const stack = await t.start({ clock, chargers: [{ id: 'CP3' }] });
    const { proxy, cms } = stack;
    const charger = t.add(new SimCharger({ id: 'CP3', protocol: 'ocpp1.6', url: proxy.url(), clock }));
    await charger.start();
    await waitFor(() => charger?.booted === true && cms.connectedIds().includes('CP3'), { what: 'boot' });
    const res = await cms.call(
      'CP3',
      'ChangeConfiguration',
      { key: 'MeterValueSampleInterval', value: '5' },
      'cms-msg-42',
    );
    expect(res).toEqual({ status: 'Accepted' });
    expect(charger.received.at(-1)).toEqual({
      action: 'ChangeConfiguration',
      params: { key: 'MeterValueSampleInterval', value: '5' },
    });
    const cfg = await cms.call('CP3', 'GetConfiguration', {});
    expect(cfg.configurationKey).toBeDefined();
  });
});
