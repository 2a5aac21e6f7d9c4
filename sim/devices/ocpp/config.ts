import { type MeasurandSpec, parseMeasurands } from './meter.js';
import type { Json, OcppVersion } from './wire.js';

/** OCPP 1.6 factory default of many chargers in the field: un-phased energy and power. */
export const FACTORY_MEASURANDS = 'Energy.Active.Import.Register,Power.Active.Import';
export const FACTORY_INTERVAL_MS = 60_000;
const MAX_MEASURANDS = 12;

interface Setting {
  value: string;
  readonly readonly: boolean;
  /** Normalised value, or undefined when the charger refuses it. */
  readonly accept?: (v: string) => string | undefined;
}

const int = (v: string) => (/^\d+$/.test(v.trim()) ? String(Number(v)) : undefined);
const bool = (v: string) => (/^(true|false)$/i.test(v.trim()) ? v.trim().toLowerCase() : undefined);
const measurands = (v: string) => (parseMeasurands(v, MAX_MEASURANDS) ? v.trim() : undefined);
const rw = (value: string, accept: (v: string) => string | undefined): Setting => ({ value, readonly: false, accept });
const ro = (value: string): Setting => ({ value, readonly: true });

export interface ChargerConfigOptions {
  readonly version: OcppVersion;
  readonly connectors: number;
  /** Sampled meter value period, ms (factory default 60 s). */
  readonly intervalMs?: number;
  /** Sampled measurands in 1.6 notation (factory default: un-phased energy and power). */
  readonly measurands?: readonly string[];
}

export interface MeterSeries {
  readonly intervalMs: number;
  readonly measurands: MeasurandSpec[];
}

/** Seconds as a key value; sub-second periods (stress tests) stay readable. */
const seconds = (ms: number) => String(ms / 1000);

/**
 * The charger's configuration: 1.6 keys (ChangeConfiguration /
 * GetConfiguration) or 2.x component variables (SetVariables /
 * GetVariables), with the answers a real charger gives: unknown key
 * NotSupported (UnknownVariable / UnknownComponent), read-only Rejected, a
 * value it cannot serve Rejected. Sampled-data settings take effect at
 * once; the charger re-reads `sampled()` after every change.
 */
export class ChargerConfig {
  private readonly settings = new Map<string, Setting>();

  constructor(private readonly opts: ChargerConfigOptions) {
    const interval = seconds(opts.intervalMs ?? FACTORY_INTERVAL_MS);
    const sampled = (opts.measurands ?? FACTORY_MEASURANDS.split(',')).join(',');
    const entries: Array<[string, Setting]> =
      opts.version === 'ocpp1.6'
        ? [
            // An interval given by the test or scenario is pinned (as an installer may lock it): the gateway's
            // ChangeConfiguration is Rejected and the charger keeps it.
            ['MeterValueSampleInterval', opts.intervalMs !== undefined ? ro(interval) : rw(interval, int)],
            ['MeterValuesSampledData', rw(sampled, measurands)],
            ['MeterValuesSampledDataMaxLength', ro(String(MAX_MEASURANDS))],
            ['StopTxnSampledData', rw('Energy.Active.Import.Register', measurands)],
            ['ClockAlignedDataInterval', rw('0', int)],
            ['MeterValuesAlignedData', rw('Energy.Active.Import.Register', measurands)],
            ['HeartbeatInterval', rw('300', int)],
            ['ConnectionTimeOut', rw('60', int)],
            ['AuthorizeRemoteTxRequests', rw('false', bool)],
            ['StopTransactionOnEVSideDisconnect', rw('true', bool)],
            ['NumberOfConnectors', ro(String(opts.connectors))],
            ['ChargeProfileMaxStackLevel', ro('10')],
            ['ChargingScheduleAllowedChargingRateUnit', ro('Current,Power')],
            ['ChargingScheduleMaxPeriods', ro('24')],
            ['MaxChargingProfilesInstalled', ro('10')],
            ['SupportedFeatureProfiles', ro('Core,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger')],
          ]
        : [
            ['SampledDataCtrlr/Enabled', rw('true', bool)],
            ['SampledDataCtrlr/TxUpdatedInterval', opts.intervalMs !== undefined ? ro(interval) : rw(interval, int)],
            ['SampledDataCtrlr/TxUpdatedMeasurands', rw(sampled, measurands)],
            ['SampledDataCtrlr/TxStartedMeasurands', rw('Energy.Active.Import.Register', measurands)],
            ['SampledDataCtrlr/TxEndedMeasurands', rw('Energy.Active.Import.Register', measurands)],
            ['SampledDataCtrlr/TxEndedInterval', rw('0', int)],
            ['SampledDataCtrlr/RegisterValuesWithoutPhases', ro('true')],
            ['AlignedDataCtrlr/Enabled', rw('false', bool)],
            ['AlignedDataCtrlr/Interval', rw('0', int)],
            ['AlignedDataCtrlr/Measurands', rw('Energy.Active.Import.Register', measurands)],
            ['OCPPCommCtrlr/HeartbeatInterval', rw('300', int)],
            ['SmartChargingCtrlr/Enabled', ro('true')],
            ['SmartChargingCtrlr/ProfileStackLevel', ro('10')],
            ['SmartChargingCtrlr/RateUnit', ro('A,W')],
            ['SmartChargingCtrlr/PeriodsPerSchedule', ro('24')],
          ];
    for (const [k, s] of entries) this.settings.set(k, s);
  }

  private get v16(): boolean {
    return this.opts.version === 'ocpp1.6';
  }

  /** The sampled meter values in force: period (0 = none) and measurands. */
  sampled(): MeterSeries {
    return this.v16
      ? this.series(undefined, 'MeterValueSampleInterval', 'MeterValuesSampledData')
      : this.series(
          'SampledDataCtrlr/Enabled',
          'SampledDataCtrlr/TxUpdatedInterval',
          'SampledDataCtrlr/TxUpdatedMeasurands',
        );
  }

  /** The clock-aligned meter values in force (0 = none). */
  aligned(): MeterSeries {
    return this.v16
      ? this.series(undefined, 'ClockAlignedDataInterval', 'MeterValuesAlignedData')
      : this.series('AlignedDataCtrlr/Enabled', 'AlignedDataCtrlr/Interval', 'AlignedDataCtrlr/Measurands');
  }

  private series(enabledKey: string | undefined, intervalKey: string, listKey: string): MeterSeries {
    const enabled = enabledKey === undefined || this.value(enabledKey) === 'true';
    return {
      intervalMs: enabled ? Math.round(Number(this.value(intervalKey)) * 1000) : 0,
      measurands: parseMeasurands(this.value(listKey) ?? '', MAX_MEASURANDS) ?? [],
    };
  }

  /** HeartbeatInterval in force, s. */
  heartbeatS(): number {
    return Number(this.value(this.v16 ? 'HeartbeatInterval' : 'OCPPCommCtrlr/HeartbeatInterval'));
  }

  /** Adopt the interval a BootNotification answer set (the central system's word, not a configuration call). */
  adoptHeartbeat(intervalS: number): void {
    const s = this.settings.get(this.v16 ? 'HeartbeatInterval' : 'OCPPCommCtrlr/HeartbeatInterval');
    if (s && Number.isInteger(intervalS) && intervalS >= 0) s.value = String(intervalS);
  }

  value(key: string): string | undefined {
    return this.settings.get(key)?.value;
  }

  /** 1.6 ChangeConfiguration. */
  change(key: string, value: string): 'Accepted' | 'Rejected' | 'NotSupported' {
    const s = this.settings.get(key);
    if (!s || !this.v16) return 'NotSupported';
    return this.write(s, value);
  }

  /** 1.6 GetConfiguration: every key when none is asked for, unknown keys listed apart. */
  get(keys: readonly string[] | undefined): Json {
    const wanted = keys && keys.length > 0 ? keys : [...this.settings.keys()];
    const known = wanted.filter((k) => this.settings.has(k));
    const unknown = wanted.filter((k) => !this.settings.has(k));
    return {
      configurationKey: known.map((key) => {
        const s = this.settings.get(key) as Setting;
        return { key, readonly: s.readonly, value: s.value };
      }),
      ...(unknown.length > 0 ? { unknownKey: unknown } : {}),
    };
  }

  /** 2.x SetVariables. */
  setVariables(data: readonly Json[]): Json {
    return {
      setVariableResult: data.map((d) => {
        const { component, variable, attributeType } = d as { component: Json; variable: Json; attributeType?: string };
        const found = this.lookup(component, variable);
        const attributeStatus =
          typeof found === 'string'
            ? found
            : attributeType !== undefined && attributeType !== 'Actual'
              ? 'NotSupportedAttributeType'
              : this.write(found, String(d.attributeValue ?? ''));
        return { attributeStatus, component, variable, ...(attributeType ? { attributeType } : {}) };
      }),
    };
  }

  /** 2.x GetVariables. */
  getVariables(data: readonly Json[]): Json {
    return {
      getVariableResult: data.map((d) => {
        const { component, variable, attributeType } = d as { component: Json; variable: Json; attributeType?: string };
        const found = this.lookup(component, variable);
        const base = { component, variable, ...(attributeType ? { attributeType } : {}) };
        if (typeof found === 'string') return { attributeStatus: found, ...base };
        if (attributeType !== undefined && attributeType !== 'Actual') {
          return { attributeStatus: 'NotSupportedAttributeType', ...base };
        }
        return { attributeStatus: 'Accepted', attributeValue: found.value, ...base };
      }),
    };
  }

  private lookup(component: Json, variable: Json): Setting | 'UnknownComponent' | 'UnknownVariable' {
    if (this.v16) return 'UnknownComponent';
    const c = String(component?.name ?? '');
    const s = this.settings.get(`${c}/${String(variable?.name ?? '')}`);
    if (s) return s;
    return [...this.settings.keys()].some((k) => k.startsWith(`${c}/`)) ? 'UnknownVariable' : 'UnknownComponent';
  }

  private write(s: Setting, value: string): 'Accepted' | 'Rejected' {
    if (s.readonly) return 'Rejected';
    const v = s.accept?.(value);
    if (v === undefined) return 'Rejected';
    s.value = v;
    return 'Accepted';
  }
}
