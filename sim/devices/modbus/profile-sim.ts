/**
 * The register-mapped device simulators under their earlier names (tests,
 * demo). The maps are the simulator's own (device-maps.ts), not the
 * gateway's profiles.
 */
export { ModbusChargerSim, type ChargerSimOptions } from './charger-sim.js';
export {
  MappedDeviceSim as ProfileDeviceSim,
  type MappedSimOptions as ProfileSimOptions,
  MeterSim as ProfileMeterSim,
} from './mapped-device.js';
