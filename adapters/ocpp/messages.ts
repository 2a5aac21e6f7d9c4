import type { EvChargingNeeds } from '../../src/model/events.js';
import type { EvseStatus } from '../../src/model/site.js';
import type { OcppProtocol } from './rpc/protocol.js';
import type { V16, V21, V201 } from './types.js';

/**
 * Charger → CMS actions the CMS must eventually see even if the cloud is
 * down when they happen: they go through the durable outbox, in order.
 * Everything else (BootNotification, Heartbeat, Authorize, ...) is forwarded
 * live and answered locally while the CMS is unreachable.
 */
const QUEUED: Record<OcppProtocol, ReadonlySet<string>> = {
  'ocpp1.6': new Set(['StartTransaction', 'StopTransaction', 'MeterValues', 'StatusNotification']),
  'ocpp2.0.1': new Set(['TransactionEvent', 'MeterValues', 'StatusNotification', 'SecurityEventNotification']),
  'ocpp2.1': new Set(['TransactionEvent', 'MeterValues', 'StatusNotification', 'SecurityEventNotification']),
};

export function isQueued(protocol: OcppProtocol, action: string): boolean {
  return QUEUED[protocol].has(action);
}

export type AuthStatus = 'Accepted' | 'Blocked' | 'Expired' | 'Invalid' | 'ConcurrentTx' | 'Unknown';

export interface LocalContext {
  readonly now: number;
  readonly heartbeatIntervalS: number;
  readonly authorise: (idTag: string) => AuthStatus;
}

type Json = Record<string, unknown>;
type Status16 = V16.AuthorizeResponse['idTagInfo']['status'];
type Status2 = V201.IdTokenInfoType['status'];

/** The idTag (1.6) or idToken (2.x) a charger call presents, if any. */
function idTagOf(protocol: OcppProtocol, payload: Json): string | undefined {
  if (protocol === 'ocpp1.6') {
    const tag = (payload as { idTag?: V16.AuthorizeRequest['idTag'] }).idTag;
    return typeof tag === 'string' ? tag : undefined;
  }
  const tok = (payload as { idToken?: V201.IdTokenType }).idToken;
  return typeof tok?.idToken === 'string' ? tok.idToken : undefined;
}

/**
 * The gateway's own answer to a charger call while the CMS is unreachable,
 * or undefined when there is no sensible local answer (the charger then gets
 * a CALLERROR). 1.6 StartTransaction is answered by the proxy itself, which
 * also issues the transaction id; it is not built here. Each answer is
 * checked against its typed-ocpp response type.
 */
export function localAnswer(
  protocol: OcppProtocol,
  action: string,
  payload: Json,
  ctx: LocalContext,
): Json | undefined {
  const iso = new Date(ctx.now).toISOString();
  const v16 = protocol === 'ocpp1.6';
  const info16 = (tag: string) => ({ status: ctx.authorise(tag) as Status16 });
  const info2 = (tag: string) => ({ status: ctx.authorise(tag) as Status2 });
  switch (action) {
    case 'BootNotification':
      return { status: 'Accepted', currentTime: iso, interval: ctx.heartbeatIntervalS } satisfies
        | V16.BootNotificationResponse
        | V201.BootNotificationResponse;
    case 'Heartbeat':
      return { currentTime: iso } satisfies V16.HeartbeatResponse | V201.HeartbeatResponse;
    case 'Authorize': {
      const tag = idTagOf(protocol, payload) ?? '';
      return v16
        ? ({ idTagInfo: info16(tag) } satisfies V16.AuthorizeResponse)
        : ({ idTokenInfo: info2(tag) } satisfies V201.AuthorizeResponse);
    }
    case 'StopTransaction': {
      const tag = idTagOf(protocol, payload);
      return (tag ? { idTagInfo: info16(tag) } : {}) satisfies V16.StopTransactionResponse;
    }
    case 'TransactionEvent': {
      const tag = idTagOf(protocol, payload);
      return (tag ? { idTokenInfo: info2(tag) } : {}) satisfies V201.TransactionEventResponse;
    }
    case 'MeterValues':
    case 'StatusNotification':
    case 'SecurityEventNotification':
    case 'NotifyEvent':
    case 'NotifyReport':
    case 'FirmwareStatusNotification':
    case 'DiagnosticsStatusNotification':
    case 'LogStatusNotification':
    case 'NotifyMonitoringReport':
      return {};
    case 'NotifyEVChargingNeeds':
      return { status: 'Accepted' } satisfies V201.NotifyEVChargingNeedsResponse;
    case 'DataTransfer':
      return { status: 'UnknownVendorId' } satisfies V16.DataTransferResponse | V201.DataTransferResponse;
    default:
      return undefined;
  }
}

export interface MeterSample {
  powerW?: number;
  currentsA?: [number, number, number];
  energyWh?: number;
}

type MeterValue16 = V16.MeterValuesRequest['meterValue'][number];
type SampledValue16 = MeterValue16['sampledValue'][number];
type SampledValue2 = V201.SampledValueType;

const PHASE_INDEX: Record<string, 0 | 1 | 2> = { L1: 0, L2: 1, L3: 2, 'L1-N': 0, 'L2-N': 1, 'L3-N': 2 };

/** Latest power, phase currents and energy register from OCPP meter values (any version), in W, A, Wh. */
export function parseMeterValues(
  protocol: OcppProtocol,
  meterValue: readonly (MeterValue16 | V201.MeterValueType)[] | undefined,
): MeterSample {
  const out: MeterSample = {};
  if (!Array.isArray(meterValue)) return out;
  const currents: [number, number, number] = [0, 0, 0];
  let sawCurrent = false;
  let powerImport: number | undefined;
  let powerExport: number | undefined;
  // Per-phase power (a charger configured for phased values may send no total): summed when no total came.
  let phaseImport: number | undefined;
  let phaseExport: number | undefined;
  for (const mv of meterValue) {
    for (const raw of mv.sampledValue ?? []) {
      let value: number;
      let unit: string | undefined;
      let measurand: string;
      let phase: string | undefined;
      if (protocol === 'ocpp1.6') {
        const sv = raw as SampledValue16;
        value = Number(sv.value);
        unit = sv.unit;
        measurand = sv.measurand ?? 'Energy.Active.Import.Register';
        phase = sv.phase;
      } else {
        const sv = raw as SampledValue2;
        value = sv.value * 10 ** (sv.unitOfMeasure?.multiplier ?? 0);
        unit = sv.unitOfMeasure?.unit;
        measurand = sv.measurand ?? 'Energy.Active.Import.Register';
        phase = sv.phase;
      }
      if (!Number.isFinite(value)) continue;
      const k = unit === 'kW' || unit === 'kWh' ? 1000 : 1;
      if (measurand === 'Energy.Active.Import.Register' && phase === undefined) out.energyWh = value * k;
      else if (measurand === 'Power.Active.Import' && phase === undefined) powerImport = value * k;
      else if (measurand === 'Power.Active.Export' && phase === undefined) powerExport = value * k;
      else if (measurand === 'Power.Active.Import' && phase !== undefined && phase in PHASE_INDEX)
        phaseImport = (phaseImport ?? 0) + value * k;
      else if (measurand === 'Power.Active.Export' && phase !== undefined && phase in PHASE_INDEX)
        phaseExport = (phaseExport ?? 0) + value * k;
      else if (measurand === 'Current.Import' && phase !== undefined && phase in PHASE_INDEX) {
        currents[PHASE_INDEX[phase] as number] = value;
        sawCurrent = true;
      }
    }
  }
  powerImport ??= phaseImport;
  powerExport ??= phaseExport;
  if (powerImport !== undefined || powerExport !== undefined) out.powerW = (powerImport ?? 0) - (powerExport ?? 0);
  if (sawCurrent) out.currentsA = currents;
  return out;
}

const STATUS_16: Record<string, EvseStatus> = {
  Available: 'Available',
  Preparing: 'Preparing',
  Charging: 'Charging',
  SuspendedEV: 'SuspendedEV',
  SuspendedEVSE: 'SuspendedEVSE',
  Finishing: 'Finishing',
  Reserved: 'Reserved',
  Unavailable: 'Unavailable',
  Faulted: 'Faulted',
};

/** OCPP connector status → the gateway's EVSE status. 2.x `Occupied` means plugged in (refined by TransactionEvent). */
export function mapStatus(protocol: OcppProtocol, status: string): EvseStatus {
  if (protocol === 'ocpp1.6') return STATUS_16[status] ?? 'Unavailable';
  switch (status) {
    case 'Available':
      return 'Available';
    case 'Occupied':
      return 'Preparing';
    case 'Reserved':
      return 'Reserved';
    case 'Faulted':
      return 'Faulted';
    default:
      return 'Unavailable';
  }
}

/** 2.x TransactionEvent chargingState → EVSE status. */
export function mapChargingState(state: string | undefined): EvseStatus | undefined {
  switch (state) {
    case 'Charging':
      return 'Charging';
    case 'SuspendedEV':
      return 'SuspendedEV';
    case 'SuspendedEVSE':
      return 'SuspendedEVSE';
    case 'EVConnected':
      return 'Preparing';
    case 'Idle':
      return 'Available';
    default:
      return undefined;
  }
}

/**
 * OCPP 2.x NotifyEVChargingNeeds → the gateway's EV needs (W, Wh, A; epoch
 * ms): the one parser of it (the fleet inputs take its result). Energy is
 * the AC or DC `energyAmount`, else the 2.1 V2X target; the vehicle allows
 * discharge when it asks for a bidirectional (`*_BPT*`) transfer.
 */
export function parseChargingNeeds(
  chargerId: string,
  evseIdValue: string,
  payload: V21.NotifyEVChargingNeedsRequest,
  now: number,
): EvChargingNeeds {
  const needs: Partial<V21.ChargingNeedsType> = payload.chargingNeeds ?? {};
  const ac = needs.acChargingParameters;
  const dc = needs.dcChargingParameters;
  const v2x = needs.v2xChargingParameters;
  const mode = String(needs.requestedEnergyTransfer ?? 'AC_three_phase');
  const departure = typeof needs.departureTime === 'string' ? Date.parse(needs.departureTime) : Number.NaN;
  const energy = ac?.energyAmount ?? dc?.energyAmount ?? v2x?.evTargetEnergyRequest;
  const maxDischarge = v2x?.maxDischargePower;
  return {
    chargerId,
    evseId: evseIdValue,
    ts: now,
    ...(Number.isFinite(departure) ? { departureAt: departure } : {}),
    ...(energy !== undefined ? { energyWh: energy } : {}),
    ...(ac?.evMinCurrent !== undefined ? { minCurrentA: ac.evMinCurrent } : {}),
    ...(ac?.evMaxCurrent !== undefined ? { maxCurrentA: ac.evMaxCurrent } : {}),
    dischargeAllowed: mode.includes('BPT'),
    ...(maxDischarge !== undefined ? { maxDischargeW: Math.abs(maxDischarge) } : {}),
    transferMode: mode,
  };
}
