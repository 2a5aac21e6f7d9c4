import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/model/clock.js';
import { SimCharger, type SimChargerOptions } from '../../sim/devices/ocpp/charger.js';
import { SimVehicle } from '../../sim/site/vehicle.js';
import { Cleanups, drive, plainAnswer, type SeenCall, startRawCentral, until } from './helpers.js';

type Sampled = { value: string | number; measurand?: string; phase?: string };

/** [measurand(.phase), value] of every sampled value in a MeterValues or TransactionEvent call. */
function samples(call: SeenCall | undefined): Array<[string, number]> {
  const mvs = (call?.payload.meterValue ?? []) as Array<{ sampledValue: Sampled[] }>;
  return mvs.flatMap((mv) =>
    mv.sampledValue.map((s): [string, number] => [`${s.measurand}${s.phase ? `.${s.phase}` : ''}`, Number(s.value)]),
  );
}

const stamp = (c: SeenCall) => Date.parse((c.payload.meterValue as Array<{ timestamp: string }>)[0]?.timestamp ?? '');

describe('SimCharger seen from a bare central system', () => {
  const cleanup = new Cleanups();
  afterEach(() => cleanup.run());

  async function boot(protocol: SimChargerOptions['protocol'], extra: Partial<SimChargerOptions> = {}) {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    const central = await startRawCentral(plainAnswer(clock));
    cleanup.push(() => central.close());
    const cp = new SimCharger({ id: 'SIM1', protocol, url: central.url, clock, ...extra });
    cleanup.push(() => cp.stop());
    await cp.start();
    await until(() => cp.booted, 'boot');
    const vehicle = new SimVehicle(
      { id: 'EV', capacityWh: 80_000, socPct: 20, maxCurrentA: 16, phases: 3, responseDelayMs: 0 },
      clock.now(),
    );
    await cp.plugIn(vehicle, 'TAG');
    return { clock, end: central.end(), cp, central };
  }

  it('1.6 factory default: un-phased energy and power every 60 s, as GetConfiguration says', async () => {
    const { clock, end, central } = await boot('ocpp1.6', { password: 'pw' });
    expect(central.handshake).toMatchObject({ path: '/ocpp/SIM1', protocol: 'ocpp1.6' });
    expect(central.handshake.authorization).toBe(`Basic ${Buffer.from('SIM1:pw').toString('base64')}`);
    const cfg = await end.result('GetConfiguration', { key: ['MeterValueSampleInterval', 'MeterValuesSampledData'] });
    expect(cfg.configurationKey).toEqual([
      { key: 'MeterValueSampleInterval', readonly: false, value: '60' },
      { key: 'MeterValuesSampledData', readonly: false, value: 'Energy.Active.Import.Register,Power.Active.Import' },
    ]);

    await drive(clock, 185_000);
    await until(() => end.of('MeterValues').length >= 3, 'three meter values');
    const mv = end.of('MeterValues');
    expect(mv).toHaveLength(3);
    expect(mv.map(stamp).map((t, i, a) => (i > 0 ? t - (a[i - 1] as number) : 0))).toEqual([0, 60_000, 60_000]);
    for (const m of mv) {
      expect(m.payload.transactionId).toBe(42);
      expect(samples(m).map(([k]) => k)).toEqual(['Energy.Active.Import.Register', 'Power.Active.Import']);
    }
    expect(samples(mv[1])[1]?.[1]).toBe(16 * 3 * 230);
  });

  it('1.6 ChangeConfiguration: new interval and measurands at once, per-phase values carry their phase', async () => {
    const { clock, end } = await boot('ocpp1.6');
    const change = async (key: string, value: string) =>
      (await end.result('ChangeConfiguration', { key, value })).status;
    expect(await change('MeterValueSampleInterval', '10')).toBe('Accepted');
    const measurands =
      'Energy.Active.Import.Register,Current.Import,Power.Active.Import.L1,Power.Active.Import.L2,Power.Active.Import.L3';
    expect(await change('MeterValuesSampledData', measurands)).toBe('Accepted');
    expect(await change('NoSuchKey', '1')).toBe('NotSupported');
    expect(await change('NumberOfConnectors', '2')).toBe('Rejected');
    expect(await change('MeterValuesSampledData', 'Bogus.Measurand')).toBe('Rejected');
    expect(await change('MeterValueSampleInterval', 'soon')).toBe('Rejected');
    const cfg = await end.result('GetConfiguration', { key: ['MeterValueSampleInterval', 'Nope'] });
    expect(cfg).toEqual({
      configurationKey: [{ key: 'MeterValueSampleInterval', readonly: false, value: '10' }],
      unknownKey: ['Nope'],
    });

    await drive(clock, 35_000);
    await until(() => end.of('MeterValues').length >= 3, 'meter values every 10 s');
    const mv = end.of('MeterValues');
    expect(mv).toHaveLength(3);
    expect(stamp(mv[2] as SeenCall) - stamp(mv[1] as SeenCall)).toBe(10_000);
    expect(samples(mv[2])).toEqual([
      ['Energy.Active.Import.Register', expect.any(Number)],
      ['Current.Import.L1', 16],
      ['Current.Import.L2', 16],
      ['Current.Import.L3', 16],
      ['Power.Active.Import.L1', 3680],
      ['Power.Active.Import.L2', 3680],
      ['Power.Active.Import.L3', 3680],
    ]);
  });

  it('1.6 clock-aligned meter values at whole multiples of ClockAlignedDataInterval, beside the sampled ones', async () => {
    const { clock, end } = await boot('ocpp1.6');
    expect((await end.result('ChangeConfiguration', { key: 'ClockAlignedDataInterval', value: '900' })).status).toBe(
      'Accepted',
    );
    await drive(clock, 31 * 60_000, 5000);
    const ctx = (c: SeenCall) =>
      (c.payload.meterValue as Array<{ sampledValue: Array<{ context: string }> }>)[0]?.sampledValue[0]?.context;
    await until(() => end.of('MeterValues').filter((c) => ctx(c) === 'Sample.Clock').length === 2, 'aligned values');
    const aligned = end.of('MeterValues').filter((c) => ctx(c) === 'Sample.Clock');
    expect(aligned.map((c) => new Date(stamp(c)).toISOString())).toEqual([
      '2026-01-05T08:15:00.000Z',
      '2026-01-05T08:30:00.000Z',
    ]);
    expect(samples(aligned[0]).map(([k]) => k)).toEqual(['Energy.Active.Import.Register']);
    expect(end.of('MeterValues').filter((c) => ctx(c) === 'Sample.Periodic')).toHaveLength(31);
  });

  it('2.0.1: factory TxUpdatedInterval 60 s; SetVariables on SampledDataCtrlr changes interval and measurands', async () => {
    const { clock, end } = await boot('ocpp2.0.1');
    const updates = () => end.of('TransactionEvent').filter((c) => c.payload.triggerReason === 'MeterValuePeriodic');
    await drive(clock, 61_000);
    await until(() => updates().length === 1, 'first periodic update');
    expect(samples(updates()[0]).map(([k]) => k)).toEqual(['Energy.Active.Import.Register', 'Power.Active.Import']);

    const sampled = (name: string) => ({ component: { name: 'SampledDataCtrlr' }, variable: { name } });
    const set = await end.result('SetVariables', {
      setVariableData: [
        { ...sampled('TxUpdatedInterval'), attributeValue: '15' },
        { ...sampled('TxUpdatedMeasurands'), attributeValue: 'Energy.Active.Import.Register,Current.Import' },
        { ...sampled('NoSuchVariable'), attributeValue: '1' },
        { component: { name: 'NoSuchCtrlr' }, variable: { name: 'X' }, attributeValue: '1' },
        { ...sampled('RegisterValuesWithoutPhases'), attributeValue: 'false' },
      ],
    });
    expect((set.setVariableResult as Json[]).map((r) => r.attributeStatus)).toEqual([
      'Accepted',
      'Accepted',
      'UnknownVariable',
      'UnknownComponent',
      'Rejected',
    ]);
    const got = await end.result('GetVariables', { getVariableData: [sampled('TxUpdatedInterval')] });
    expect(got.getVariableResult).toEqual([
      { attributeStatus: 'Accepted', attributeValue: '15', ...sampled('TxUpdatedInterval') },
    ]);

    await drive(clock, 31_000);
    await until(() => updates().length === 3, 'updates every 15 s');
    const [, a, b] = updates();
    expect(Date.parse(b?.payload.timestamp as string) - Date.parse(a?.payload.timestamp as string)).toBe(15_000);
    expect(samples(b).map(([k]) => k)).toEqual([
      'Energy.Active.Import.Register',
      'Current.Import.L1',
      'Current.Import.L2',
      'Current.Import.L3',
    ]);

    // TriggerMessage(MeterValues) gets a MeterValues request, even during the transaction (F06).
    const trig = await end.result('TriggerMessage', { requestedMessage: 'MeterValues', evse: { id: 1 } });
    expect(trig.status).toBe('Accepted');
    clock.advance(0);
    await until(() => end.of('MeterValues').length === 1, 'triggered MeterValues');
    expect(end.of('MeterValues')[0]?.payload.evseId).toBe(1);
  });

  it('retries a Pending boot after its interval, then beats at the interval the boot answer gave', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    const answer = plainAnswer(clock);
    let boots = 0;
    const central = await startRawCentral((action, payload) =>
      action === 'BootNotification'
        ? { ...(answer(action, payload) as Json), status: ++boots === 1 ? 'Pending' : 'Accepted', interval: 30 }
        : answer(action, payload),
    );
    cleanup.push(() => central.close());
    const cp = new SimCharger({ id: 'HB1', protocol: 'ocpp1.6', url: central.url, clock });
    cleanup.push(() => cp.stop());
    await cp.start();
    await until(() => boots === 1, 'first boot');
    await drive(clock, 29_000);
    expect(cp.booted).toBe(false);
    await drive(clock, 2000);
    await until(() => cp.booted, 'boot accepted on the retry');
    const end = central.end();
    await drive(clock, 61_000);
    await until(() => end.of('Heartbeat').length === 2, 'heartbeats');
    const cfg = await end.result('GetConfiguration', { key: ['HeartbeatInterval'] });
    expect(cfg.configurationKey).toEqual([{ key: 'HeartbeatInterval', readonly: false, value: '30' }]);
    expect((await end.result('ChangeConfiguration', { key: 'HeartbeatInterval', value: '10' })).status).toBe(
      'Accepted',
    );
    await drive(clock, 31_000);
    await until(() => end.of('Heartbeat').length === 5, 'heartbeats every 10 s');
  });

  it('resends a MeterValues nobody answered under the same message id', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    const answer = plainAnswer(clock);
    let lose = 1;
    const central = await startRawCentral((action, payload) =>
      action === 'MeterValues' && lose-- > 0 ? null : answer(action, payload),
    );
    cleanup.push(() => central.close());
    const cp = new SimCharger({ id: 'RS1', protocol: 'ocpp1.6', url: central.url, clock, callTimeoutMs: 5000 });
    cleanup.push(() => cp.stop());
    await cp.start();
    await until(() => cp.booted, 'boot');
    await cp.plugIn(
      new SimVehicle(
        { id: 'EV', capacityWh: 80_000, socPct: 20, maxCurrentA: 16, phases: 3, responseDelayMs: 0 },
        clock.now(),
      ),
      'TAG',
    );
    await drive(clock, 67_000);
    await until(() => central.end().of('MeterValues').length === 2 && cp.backlog === 0, 'the resend answered');
    const [first, again] = central.end().of('MeterValues');
    expect(again?.id).toBe(first?.id);
    expect(again?.payload).toEqual(first?.payload);
    expect(cp.acked.filter((a) => a.action === 'MeterValues').map((a) => a.msgId)).toEqual([first?.id]);
  });
});

type Json = Record<string, unknown>;
