import type { EvseSpec, EvseState } from '../../src/model/site.js';

/** A 32 A three-phase OCPP EVSE on the site node; override what a test is about. */
export function evseSpec(id: string, over: Partial<EvseSpec> = {}): EvseSpec {
  return {
    id,
    chargerId: id.split('/')[0] ?? id,
    connectorId: 1,
    protocol: 'ocpp',
    circuitId: 'site',
    phaseRotation: 'L1L2L3',
    phases: 3,
    minCurrentA: 6,
    maxCurrentA: 32,
    voltageV: 230,
    bidirectional: false,
    priority: 0,
    ...over,
  };
}

/** The same EVSE with a charging session (`s-<id>`) as the process image holds it; override the rest. */
export function chargingEvse(id: string, over: Partial<EvseState> = {}): EvseState {
  return { ...evseSpec(id), status: 'Charging', sessionId: `s-${id}`, sessionStart: 0, ...over };
}
