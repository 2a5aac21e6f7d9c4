import type { SimVehicle } from '../../site/vehicle.js';
import type { Connector } from './connector.js';
import type { Json, OcppVersion } from './wire.js';

/** Payloads the charger sends, per version; pure builders, no I/O. */

export function bootPayload(version: OcppVersion, vendor: string, model: string): Json {
  return version === 'ocpp1.6'
    ? { chargePointVendor: vendor, chargePointModel: model }
    : { reason: 'PowerUp', chargingStation: { vendorName: vendor, model } };
}

export function statusPayload(version: OcppVersion, c: Connector, timestamp: string): Json {
  if (version === 'ocpp1.6') return { connectorId: c.id, errorCode: 'NoError', status: c.status, timestamp };
  // 2.x connector status is only about the plug; charging states travel in TransactionEvent.
  const connectorStatus = c.vehicle || c.status === 'Occupied' ? 'Occupied' : 'Available';
  return { timestamp, connectorStatus, evseId: c.id, connectorId: 1 };
}

export function idToken(idTag: string): Json {
  return { idToken: idTag, type: 'ISO14443' };
}

/** A 2.x TransactionEvent; takes the connector's next seqNo. */
export function txEvent(
  c: Connector,
  eventType: string,
  triggerReason: string,
  chargingState: string,
  timestamp: string,
): Json {
  return {
    eventType,
    timestamp,
    triggerReason,
    seqNo: c.seqNo++,
    transactionInfo: { transactionId: String(c.txId), chargingState },
    evse: { id: c.id, connectorId: 1 },
  };
}

/** 2.x NotifyEVChargingNeeds as the vehicle states them over ISO 15118. */
export function needsPayload(
  version: OcppVersion,
  chargerBidirectional: boolean,
  c: Connector,
  v: SimVehicle,
  iso: (ms: number) => string,
): Json {
  const bpt = version === 'ocpp2.1' && chargerBidirectional && v.spec.bidirectional;
  const departure = v.spec.departureAt !== undefined ? { departureTime: iso(v.spec.departureAt) } : {};
  return {
    evseId: c.id,
    chargingNeeds: {
      requestedEnergyTransfer: bpt ? 'AC_BPT' : v.spec.phases === 3 ? 'AC_three_phase' : 'AC_single_phase',
      ...departure,
      acChargingParameters: {
        energyAmount: v.spec.neededWh ?? 0,
        evMinCurrent: v.spec.minCurrentA ?? 6,
        evMaxCurrent: v.spec.maxCurrentA,
        evMaxVoltage: 400,
      },
    },
  };
}
