import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/model/clock.js';
import { SimCharger } from '../../sim/devices/ocpp/charger.js';
import { SimVehicle, type VehicleSpec } from '../../sim/site/vehicle.js';
import { Cleanups, drive, plainAnswer, type SeenCall, startRawCentral, until } from './helpers.js';

/** Current on L1 in a 1.6 MeterValues call, with the sample's time. */
function l1(call: SeenCall): { at: number; a: number } {
  const mv = (call.payload.meterValue as Array<{ timestamp: string; sampledValue: Array<Record<string, string>> }>)[0];
  const s = mv?.sampledValue.find((x) => x.measurand === 'Current.Import' && x.phase === 'L1');
  return { at: Date.parse(mv?.timestamp ?? ''), a: Number(s?.value) };
}

function maxProfile(limitA: number, extra: Record<string, unknown> = {}, id = 1) {
  return {
    connectorId: 0,
    csChargingProfiles: {
      chargingProfileId: id,
      stackLevel: 1,
      chargingProfilePurpose: 'ChargePointMaxProfile',
      chargingProfileKind: 'Absolute',
      ...extra,
      chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: limitA }] },
    },
  };
}

describe('SimCharger limits and its vehicle, seen from a bare central system', () => {
  const cleanup = new Cleanups();
  afterEach(() => cleanup.run());

  async function charging(spec: Partial<VehicleSpec>) {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    const central = await startRawCentral(plainAnswer(clock));
    cleanup.push(() => central.close());
    // Every second, per-phase currents: the test needs to see when the vehicle follows.
    const cp = new SimCharger({
      id: 'LIM1',
      protocol: 'ocpp1.6',
      url: central.url,
      clock,
      meterIntervalMs: 1000,
      sampledData: ['Current.Import'],
    });
    cleanup.push(() => cp.stop());
    await cp.start();
    await until(() => cp.booted, 'boot');
    const vehicle = new SimVehicle(
      { id: 'EV', capacityWh: 80_000, socPct: 20, maxCurrentA: 16, phases: 3, responseDelayMs: 0, ...spec },
      clock.now(),
    );
    await cp.plugIn(vehicle, 'TAG');
    const end = central.end();
    await drive(clock, 15_000);
    await until(() => end.of('MeterValues').length >= 14, 'meter values');
    return { clock, end, cp };
  }

  it('the vehicle follows a lower max profile only after its own delay', async () => {
    const { clock, end } = await charging({ responseDelayMs: 8000 });
    expect(l1(end.of('MeterValues').at(-1) as SeenCall).a).toBe(16);
    const t0 = clock.now();
    expect((await end.result('SetChargingProfile', maxProfile(10))).status).toBe('Accepted');
    const before = end.of('MeterValues').length;
    await drive(clock, 15_000);
    await until(() => end.of('MeterValues').length >= before + 14, 'meter values after the profile');
    const after = end.of('MeterValues').slice(before).map(l1);
    expect(after.filter((s) => s.at < t0 + 8000).every((s) => s.a === 16)).toBe(true);
    expect(after.filter((s) => s.at > t0 + 9000).every((s) => s.a === 10)).toBe(true);
    expect(after.some((s) => s.at > t0 + 9000)).toBe(true);
  });

  it('min of max and tx profile, validTo lapses, a vehicle draws over its set-point', async () => {
    const { clock, end, cp } = await charging({ overdrawA: 1.5 });
    const tx = {
      connectorId: 1,
      csChargingProfiles: {
        chargingProfileId: 5,
        transactionId: 42,
        stackLevel: 0,
        chargingProfilePurpose: 'TxProfile',
        chargingProfileKind: 'Relative',
        chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 12 }] },
      },
    };
    expect((await end.result('SetChargingProfile', tx)).status).toBe('Accepted');
    const validTo = new Date(clock.now() + 10_000).toISOString();
    expect((await end.result('SetChargingProfile', maxProfile(8, { validTo }))).status).toBe('Accepted');
    // A max profile on a connector other than 0 is refused, as the spec asks.
    expect((await end.result('SetChargingProfile', { ...maxProfile(8), connectorId: 1 })).status).toBe('Rejected');
    await drive(clock, 3000);
    expect(cp.offered(1)).toBe(8);
    await until(() => l1(end.of('MeterValues').at(-1) as SeenCall).a === 9.5, 'drawing 8 A + 1.5 A');
    await drive(clock, 10_000);
    // The max profile lapsed: the tx profile binds.
    expect(cp.offered(1)).toBe(12);
    await until(() => l1(end.of('MeterValues').at(-1) as SeenCall).a === 13.5, 'drawing 12 A + 1.5 A');
    const cleared = await end.result('ClearChargingProfile', { chargingProfilePurpose: 'TxProfile' });
    expect(cleared.status).toBe('Accepted');
    expect((await end.result('ClearChargingProfile', { id: 999 })).status).toBe('Unknown');
    expect(cp.offered(1)).toBe(32);
  });

  it('reports SuspendedEVSE under 6 A and SuspendedEV when the vehicle will not charge at the offered current', async () => {
    const { clock, end } = await charging({ minCurrentA: 8, responseDelayMs: 2000 });
    const statuses = () => end.of('StatusNotification').map((c) => c.payload.status);
    expect(statuses().at(-1)).toBe('Charging');
    await end.result('SetChargingProfile', maxProfile(4));
    await drive(clock, 1000);
    await until(() => statuses().at(-1) === 'SuspendedEVSE', 'SuspendedEVSE');
    await end.result('SetChargingProfile', maxProfile(7));
    await drive(clock, 4000);
    await until(() => statuses().at(-1) === 'SuspendedEV', 'SuspendedEV');
    await end.result('SetChargingProfile', maxProfile(10));
    await drive(clock, 4000);
    await until(() => statuses().at(-1) === 'Charging', 'charging again');
    expect(statuses().slice(-3)).toEqual(['SuspendedEVSE', 'SuspendedEV', 'Charging']);
    expect(l1(end.of('MeterValues').at(-1) as SeenCall).a).toBe(10);
  });

  it('answers a TriggerMessage for meter values and refuses what it does not implement', async () => {
    const { clock, end } = await charging({});
    const before = end.of('MeterValues').length;
    expect((await end.result('TriggerMessage', { requestedMessage: 'MeterValues', connectorId: 1 })).status).toBe(
      'Accepted',
    );
    clock.advance(0); // the charger sends it right after answering
    const unknown = await end.call('GetCompositeScheduleX', {});
    expect(unknown.slice(0, 3)).toEqual([4, expect.any(String), 'NotImplemented']);
    await until(() => end.of('MeterValues').length > before, 'triggered meter values');
    const last = end.of('MeterValues').at(-1) as SeenCall;
    const ctx = (last.payload.meterValue as Array<{ sampledValue: Array<{ context: string }> }>)[0]?.sampledValue[0];
    expect(ctx?.context).toBe('Trigger');
  });
});
