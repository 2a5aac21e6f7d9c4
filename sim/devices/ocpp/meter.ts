import type { Json, OcppVersion } from './wire.js';

export type Phase = 'L1' | 'L2' | 'L3';
const PHASES: readonly Phase[] = ['L1', 'L2', 'L3'];

/** One configured measurand; `phase: 'each'` reports L1, L2 and L3 as three values. */
export interface MeasurandSpec {
  readonly measurand: string;
  readonly phase?: Phase | 'each';
}

/** What the charger's meter sees on one connector now. */
export interface MeterReading {
  /** Signed power, W (+ import to the vehicle, - V2G export). */
  readonly powerW: number;
  readonly currentsA: readonly [number, number, number];
  readonly voltageV: number;
  readonly importWh: number;
  readonly exportWh: number;
  readonly offeredA: number;
  readonly socPct?: number;
}

const UNITS: Readonly<Record<string, string>> = {
  'Energy.Active.Import.Register': 'Wh',
  'Energy.Active.Export.Register': 'Wh',
  'Power.Active.Import': 'W',
  'Power.Active.Export': 'W',
  'Power.Offered': 'W',
  'Current.Import': 'A',
  'Current.Offered': 'A',
  Voltage: 'V',
  SoC: 'Percent',
};
/** Measurands this meter can split by phase. */
const PHASED = new Set(['Power.Active.Import', 'Power.Active.Export', 'Current.Import', 'Voltage']);
/** Measurands a three-phase meter reports per phase even when named without one, as real chargers do. */
const PER_PHASE_BY_NATURE = new Set(['Current.Import', 'Voltage']);

/**
 * Parse a measurand list (1.6 MeterValuesSampledData, 2.x
 * TxUpdatedMeasurands). OCPP 1.6 §9.1.17: "Where applicable, the
 * Measurand is combined with the optional phase; for instance:
 * Voltage.L1". So `Power.Active.Import` is the un-phased total and
 * `Power.Active.Import.L1` its share on L1. Undefined for a list this meter
 * cannot serve (the charger then answers Rejected).
 */
export function parseMeasurands(csv: string, maxLength = 12): MeasurandSpec[] | undefined {
  const items = csv
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length > maxLength) return undefined;
  const out: MeasurandSpec[] = [];
  for (const item of items) {
    const m = /^(.*)\.(L1|L2|L3)$/.exec(item);
    const name = m ? (m[1] as string) : item;
    if (UNITS[name] === undefined) return undefined;
    if (m && !PHASED.has(name)) return undefined;
    const phase = m ? (m[2] as Phase) : PER_PHASE_BY_NATURE.has(name) ? 'each' : undefined;
    out.push(phase ? { measurand: name, phase } : { measurand: name });
  }
  return out;
}

function sample(r: MeterReading, measurand: string, phase: Phase | undefined): number {
  const i = phase ? PHASES.indexOf(phase) : -1;
  const share = (total: number) => {
    if (i < 0) return total;
    const sum = r.currentsA[0] + r.currentsA[1] + r.currentsA[2];
    return sum > 0 ? (total * (r.currentsA[i] ?? 0)) / sum : 0;
  };
  switch (measurand) {
    case 'Energy.Active.Import.Register':
      return Math.round(r.importWh);
    case 'Energy.Active.Export.Register':
      return Math.round(r.exportWh);
    case 'Power.Active.Import':
      return Math.round(share(Math.max(0, r.powerW)));
    case 'Power.Active.Export':
      return Math.round(share(Math.max(0, -r.powerW)));
    case 'Power.Offered':
      return Math.round(r.offeredA * 3 * r.voltageV);
    case 'Current.Import':
      return Math.round((i < 0 ? Math.max(...r.currentsA) : (r.currentsA[i] ?? 0)) * 10) / 10;
    case 'Current.Offered':
      return Math.round(r.offeredA * 10) / 10;
    case 'Voltage':
      return r.voltageV;
    default:
      return Math.round(r.socPct ?? 0);
  }
}

/** One MeterValue element for the configured measurands, in the version's own encoding. */
export function meterValue(
  version: OcppVersion,
  specs: readonly MeasurandSpec[],
  r: MeterReading,
  context: string,
  timestamp: string,
): Json {
  const sampledValue: Json[] = [];
  for (const s of specs) {
    if (s.measurand === 'SoC' && r.socPct === undefined) continue;
    const phases: Array<Phase | undefined> = s.phase === 'each' ? [...PHASES] : [s.phase];
    for (const phase of phases) {
      const value = sample(r, s.measurand, phase);
      const unit = UNITS[s.measurand] as string;
      const base = { measurand: s.measurand, context, ...(phase ? { phase } : {}) };
      sampledValue.push(
        version === 'ocpp1.6'
          ? { value: String(value), ...base, unit, ...(s.measurand === 'SoC' ? { location: 'EV' } : {}) }
          : { value, ...base, unitOfMeasure: { unit } },
      );
    }
  }
  return { timestamp, sampledValue };
}
