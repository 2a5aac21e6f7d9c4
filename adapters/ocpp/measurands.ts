import type { Clock } from '../../src/model/clock.js';
import type { MeterCapability } from '../../src/model/site.js';
import type { GatewayBusPort } from '../../src/ports/bus.js';
import type { Logger } from '../../src/util/logger.js';
import type { OcppProtocol } from './rpc/protocol.js';
import type { Payload } from './types.js';

/**
 * Makes a charger report what the controller needs: out of the box most send
 * un-phased energy and power once a minute, so their draw after a set-point
 * change is unknown for up to a minute. On boot (or connect) this asks for
 * per-phase current and power every few seconds (1.6 ChangeConfiguration;
 * 2.0.1/2.1 SetVariables on SampledDataCtrlr/AlignedDataCtrlr), reads the
 * settings back and publishes the result as the charger's capability record
 * (`DeviceStatus.measures`, shown in the API's devices view).
 */
export const SAMPLED = ['Energy.Active.Import.Register', 'Power.Active.Import', 'Current.Import'] as const;
/** A bidirectional charger's feed-in is reported as export power: asked for first, dropped if refused. */
const WITH_EXPORT = [...SAMPLED, 'Power.Active.Export'].join(',');
/** Fallbacks for chargers that refuse the full list, most useful first. */
const SAMPLED_FALLBACKS = [WITH_EXPORT, SAMPLED.join(','), 'Power.Active.Import,Current.Import', 'Current.Import'];
export const SAMPLE_INTERVAL_S = 5;
export const ALIGNED_INTERVAL_S = 300;

export interface MeasurandTarget {
  readonly chargerId: string;
  readonly protocol: OcppProtocol;
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: GatewayBusPort;
  send(action: string, payload: Payload): Promise<unknown>;
}

/** Configure, read back and publish; never throws (a charger that does not answer is recorded as such). */
export async function configureMeasurands(t: MeasurandTarget): Promise<MeterCapability> {
  let cap: MeterCapability;
  try {
    cap = t.protocol === 'ocpp1.6' ? await configure16(t) : await configure2x(t);
  } catch (err) {
    t.log.warn({ charger: t.chargerId, err: (err as Error).message }, 'charger did not take meter value settings');
    cap = {
      sampled: [],
      perPhaseCurrent: false,
      power: false,
      outcome: 'unanswered',
      refused: [(err as Error).message],
      checkedAt: t.clock.now(),
    };
  }
  if (!cap.perPhaseCurrent)
    t.log.warn(
      { charger: t.chargerId, sampled: cap.sampled, refused: cap.refused },
      'charger reports no per-phase current: its draw is estimated from its set-point',
    );
  t.bus.emit('device', {
    id: t.chargerId,
    protocol: 'ocpp',
    kind: 'charger',
    online: true,
    lastSeen: t.clock.now(),
    measures: cap,
  });
  return cap;
}

async function change16(t: MeasurandTarget, key: string, value: string): Promise<string> {
  const res = (await t.send('ChangeConfiguration', { key, value })) as { status?: string };
  return String(res.status ?? 'Unknown');
}

async function configure16(t: MeasurandTarget): Promise<MeterCapability> {
  const refused: string[] = [];
  const tried: string[] = [];
  let taken = false;
  for (const list of SAMPLED_FALLBACKS) {
    const st = await change16(t, 'MeterValuesSampledData', list);
    if (st === 'Accepted' || st === 'RebootRequired') {
      taken = true;
      break;
    }
    tried.push(`MeterValuesSampledData=${list}: ${st}`);
  }
  // Export power is optional: a charger that took the list without it has not refused anything needed.
  if (!taken || tried.length > 1) refused.push(...tried);
  for (const [key, value] of [
    ['MeterValueSampleInterval', String(SAMPLE_INTERVAL_S)],
    ['ClockAlignedDataInterval', String(ALIGNED_INTERVAL_S)],
  ] as const) {
    const st = await change16(t, key, value);
    if (st !== 'Accepted' && st !== 'RebootRequired') refused.push(`${key}=${value}: ${st}`);
  }
  const res = (await t.send('GetConfiguration', {
    key: ['MeterValuesSampledData', 'MeterValueSampleInterval', 'ClockAlignedDataInterval'],
  })) as { configurationKey?: Array<{ key: string; value?: string }> };
  const got = new Map((res.configurationKey ?? []).map((k) => [k.key, k.value ?? ''] as const));
  return capability(
    t,
    got.get('MeterValuesSampledData'),
    got.get('MeterValueSampleInterval'),
    got.get('ClockAlignedDataInterval'),
    refused,
  );
}

const SAMPLED_CTRLR = { name: 'SampledDataCtrlr' };
const ALIGNED_CTRLR = { name: 'AlignedDataCtrlr' };

async function configure2x(t: MeasurandTarget): Promise<MeterCapability> {
  const wanted = [
    { component: SAMPLED_CTRLR, variable: { name: 'TxUpdatedMeasurands' }, attributeValue: WITH_EXPORT },
    { component: SAMPLED_CTRLR, variable: { name: 'TxUpdatedInterval' }, attributeValue: String(SAMPLE_INTERVAL_S) },
    { component: ALIGNED_CTRLR, variable: { name: 'Interval' }, attributeValue: String(ALIGNED_INTERVAL_S) },
    { component: ALIGNED_CTRLR, variable: { name: 'Measurands' }, attributeValue: SAMPLED[0] },
  ];
  const set = (await t.send('SetVariables', { setVariableData: wanted })) as {
    setVariableResult?: Array<{
      attributeStatus?: string;
      component?: { name?: string };
      variable?: { name?: string };
    }>;
  };
  const refused = (set.setVariableResult ?? [])
    .filter((r) => r.attributeStatus !== 'Accepted' && r.attributeStatus !== 'RebootRequired')
    .map((r) => `${r.component?.name}.${r.variable?.name}: ${r.attributeStatus}`);
  const get = (await t.send('GetVariables', {
    getVariableData: wanted.map(({ component, variable }) => ({ component, variable })),
  })) as {
    getVariableResult?: Array<{ attributeValue?: string; component?: { name?: string }; variable?: { name?: string } }>;
  };
  const value = (c: string, v: string) =>
    get.getVariableResult?.find((r) => r.component?.name === c && r.variable?.name === v)?.attributeValue;
  return capability(
    t,
    value('SampledDataCtrlr', 'TxUpdatedMeasurands'),
    value('SampledDataCtrlr', 'TxUpdatedInterval'),
    value('AlignedDataCtrlr', 'Interval'),
    refused,
  );
}

function capability(
  t: MeasurandTarget,
  sampledCsv: string | undefined,
  interval: string | undefined,
  aligned: string | undefined,
  refused: string[],
): MeterCapability {
  const sampled = (sampledCsv ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const sampleIntervalS = Number(interval);
  const alignedIntervalS = Number(aligned);
  const perPhaseCurrent = sampled.includes('Current.Import') && sampleIntervalS > 0;
  const power = sampled.includes('Power.Active.Import') && sampleIntervalS > 0;
  const answered = sampledCsv !== undefined || interval !== undefined;
  return {
    ...(Number.isFinite(sampleIntervalS) && interval !== undefined ? { sampleIntervalS } : {}),
    sampled,
    ...(Number.isFinite(alignedIntervalS) && aligned !== undefined ? { alignedIntervalS } : {}),
    perPhaseCurrent,
    power,
    outcome: !answered
      ? 'unanswered'
      : refused.length === 0 && perPhaseCurrent
        ? 'configured'
        : perPhaseCurrent || power
          ? 'partly'
          : 'rejected',
    refused,
    checkedAt: t.clock.now(),
  };
}
