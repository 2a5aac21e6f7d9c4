import { describe, expect, it } from 'vitest';
import { configureMeasurands, type MeasurandTarget } from '../../../adapters/ocpp/measurands.js';
import { VirtualClock } from '../../../src/model/clock.js';
import type { DeviceStatus } from '../../../src/model/site.js';
import type { GatewayBusPort } from '../../../src/ports/bus.js';
import { silentLogger } from '../../../src/util/logger.js';

/** A 1.6 charger's configuration store: accepts what `allowed` says, answers GetConfiguration with what it holds. */
function charger16(allowed: (key: string, value: string) => boolean) {
  const config = new Map([
    ['MeterValuesSampledData', 'Energy.Active.Import.Register,Power.Active.Import'],
    ['MeterValueSampleInterval', '60'],
    ['ClockAlignedDataInterval', '0'],
  ]);
  const calls: string[] = [];
  const send = async (action: string, p: Record<string, unknown>): Promise<unknown> => {
    calls.push(action);
    if (action === 'ChangeConfiguration') {
      const ok = allowed(String(p.key), String(p.value));
      if (ok) config.set(String(p.key), String(p.value));
      return { status: ok ? 'Accepted' : 'Rejected' };
    }
    if (action === 'GetConfiguration')
      return { configurationKey: (p.key as string[]).map((key) => ({ key, readonly: false, value: config.get(key) })) };
    throw new Error(`unexpected ${action}`);
  };
  return { send, calls };
}

function target(protocol: MeasurandTarget['protocol'], send: MeasurandTarget['send']) {
  const devices: DeviceStatus[] = [];
  const bus = { emit: (_e: string, d: DeviceStatus) => devices.push(d) } as unknown as GatewayBusPort;
  const t: MeasurandTarget = {
    chargerId: 'CP1',
    protocol,
    clock: new VirtualClock(1_000),
    log: silentLogger(),
    bus,
    send,
  };
  return { t, devices };
}

describe('configureMeasurands', () => {
  it('1.6: asks for per-phase current and power every 5 s, reads them back and publishes the record', async () => {
    const c = charger16(() => true);
    const { t, devices } = target('ocpp1.6', c.send);
    const cap = await configureMeasurands(t);
    expect(cap).toMatchObject({
      sampleIntervalS: 5,
      alignedIntervalS: 300,
      perPhaseCurrent: true,
      power: true,
      outcome: 'configured',
      refused: [],
    });
    expect(cap.sampled).toEqual([
      'Energy.Active.Import.Register',
      'Power.Active.Import',
      'Current.Import',
      'Power.Active.Export',
    ]);
    expect(c.calls.at(-1)).toBe('GetConfiguration');
    expect(devices[0]).toMatchObject({ id: 'CP1', kind: 'charger', measures: cap });
  });

  it('1.6: a charger that refuses per-phase current is recorded as such (its draw will be estimated)', async () => {
    const c = charger16((key, value) => !(key === 'MeterValuesSampledData' && value.includes('Current.Import')));
    const { t } = target('ocpp1.6', c.send);
    const cap = await configureMeasurands(t);
    expect(cap.perPhaseCurrent).toBe(false);
    expect(cap.outcome).toBe('partly');
    expect(cap.sampled).toEqual(['Energy.Active.Import.Register', 'Power.Active.Import']);
    expect(cap.refused).toHaveLength(4);
  });

  it('2.0.1: SetVariables on SampledDataCtrlr/AlignedDataCtrlr, read back with GetVariables', async () => {
    const held = new Map<string, string>();
    const send = async (action: string, p: Record<string, unknown>): Promise<unknown> => {
      type V = { component: { name: string }; variable: { name: string }; attributeValue?: string };
      if (action === 'SetVariables') {
        const data = p.setVariableData as V[];
        for (const d of data) held.set(`${d.component.name}.${d.variable.name}`, d.attributeValue ?? '');
        return { setVariableResult: data.map((d) => ({ ...d, attributeStatus: 'Accepted' })) };
      }
      const data = p.getVariableData as V[];
      return {
        getVariableResult: data.map((d) => ({
          ...d,
          attributeStatus: 'Accepted',
          attributeValue: held.get(`${d.component.name}.${d.variable.name}`),
        })),
      };
    };
    const { t } = target('ocpp2.0.1', send);
    const cap = await configureMeasurands(t);
    expect(cap).toMatchObject({
      sampleIntervalS: 5,
      alignedIntervalS: 300,
      perPhaseCurrent: true,
      outcome: 'configured',
    });
  });

  it('a charger that does not answer is recorded as unanswered, not as configured', async () => {
    const { t, devices } = target('ocpp1.6', async () => {
      throw new Error('charger did not answer: timeout');
    });
    const cap = await configureMeasurands(t);
    expect(cap.outcome).toBe('unanswered');
    expect(devices[0]?.measures?.perPhaseCurrent).toBe(false);
  });
});
