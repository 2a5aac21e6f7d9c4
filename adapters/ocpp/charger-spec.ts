import type { ChargerConfig } from '../../src/ports/config.js';

/**
 * The spec an accepted unknown charger gets (`ocpp.unknownChargers: accept`):
 * the defaults of a `chargers[]` entry that gives only its id. The config
 * schema owns these defaults; a unit test keeps this copy equal to them, so
 * the adapter needs no run-time import of the core's schema.
 */
export function unknownChargerSpec(id: string): ChargerConfig {
  return {
    id,
    protocol: 'ocpp',
    connectors: 1,
    circuit: 'site',
    phases: 3,
    phaseRotation: 'L1L2L3',
    minCurrentA: 6,
    maxCurrentA: 32,
    bidirectional: false,
    priority: 0,
  };
}
