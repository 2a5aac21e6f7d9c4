import type { SimDeviceMap, SimPoint } from './device-map.js';

/**
 * Register maps of the simulated meters and chargers, keyed by the name of
 * the gateway profile that should read them (so the catalogue test can pair
 * each profile with an independently written device).
 */

const f32 = (name: string, quantity: SimPoint['quantity'], address: number, per = 1): SimPoint => ({
  name,
  quantity,
  address,
  type: 'float32',
  per,
});

/**
 * Eastron SDM630 (Modbus V2): input registers (FC04), IEEE 754 float32, high
 * word first; energies in kWh.
 */
const SDM630: SimDeviceMap = {
  vendor: 'Eastron',
  model: 'SDM630',
  table: 'input',
  blocks: [{ from: 0x0000, to: 0x004f }],
  points: [
    f32('voltageL1', 'voltageL1', 0x0000),
    f32('voltageL2', 'voltageL2', 0x0002),
    f32('voltageL3', 'voltageL3', 0x0004),
    f32('currentL1', 'currentL1', 0x0006),
    f32('currentL2', 'currentL2', 0x0008),
    f32('currentL3', 'currentL3', 0x000a),
    f32('powerL1', 'powerL1', 0x000c),
    f32('powerL2', 'powerL2', 0x000e),
    f32('powerL3', 'powerL3', 0x0010),
    f32('totalPower', 'power', 0x0034),
    f32('frequency', 'frequency', 0x0046),
    f32('importEnergy', 'importEnergy', 0x0048, 1000),
    f32('exportEnergy', 'exportEnergy', 0x004a, 1000),
  ],
};

/**
 * Alfen-like socket (NG9xx "Modbus slave" style), unit 1: measurements as
 * float32 in 300–425, the load-balancing block in 1200–1225. The max current
 * holds for 60 s; without a rewrite the socket drops to its safe current.
 */
const ALFEN_LIKE: SimDeviceMap = {
  vendor: 'Alfen-like',
  model: 'Eve socket',
  table: 'holding',
  blocks: [
    { from: 300, to: 425 },
    { from: 1200, to: 1225 },
  ],
  points: [
    f32('voltageL1', 'voltageL1', 306),
    f32('voltageL2', 'voltageL2', 308),
    f32('voltageL3', 'voltageL3', 310),
    f32('currentL1', 'currentL1', 320),
    f32('currentL2', 'currentL2', 322),
    f32('currentL3', 'currentL3', 324),
    f32('frequency', 'frequency', 336),
    f32('realPowerL1', 'powerL1', 338),
    f32('realPowerL2', 'powerL2', 340),
    f32('realPowerL3', 'powerL3', 342),
    f32('realPowerSum', 'power', 344),
    f32('energyDelivered', 'energy', 374),
    { name: 'mode3State', quantity: 'status', address: 1201, type: 'uint16' },
    f32('appliedMaxCurrent', 'appliedCurrent', 1206),
    { name: 'validTimeRemaining', quantity: 'validTimeRemaining', address: 1208, type: 'uint32' },
    { ...f32('maxCurrent', 'currentLimit', 1210), access: 'rw', min: 0, max: 32 },
    { ...f32('safeCurrent', 'fallbackCurrent', 1212), access: 'rw', min: 0, max: 32, initial: 6 },
    f32('sessionEnergy', 'sessionEnergy', 1220),
  ],
  status: { Available: 0, Preparing: 1, SuspendedEVSE: 2, SuspendedEV: 3, Charging: 4, Faulted: 5 },
  charger: { phases: 3, bidirectional: false, revertS: 60, fallbackA: 6, maxCurrentA: 32 },
};

/**
 * KEBA-like P30 x-series: 32-bit read registers (FC03) in mA, mW and
 * 0.1 Wh; 16-bit set registers (FC06) from 5000, confirmed through the read
 * registers. Failsafe current and timeout are written by the client.
 */
const KEBA_LIKE: SimDeviceMap = {
  vendor: 'KEBA-like',
  model: 'P30 x-series',
  table: 'holding',
  blocks: [
    { from: 1000, to: 1047 },
    { from: 1100, to: 1111 },
    { from: 1500, to: 1503 },
    { from: 1600, to: 1603 },
  ],
  points: [
    { name: 'chargingState', quantity: 'status', address: 1000, type: 'uint32' },
    { name: 'cableState', quantity: 'cableState', address: 1004, type: 'uint32' },
    { name: 'errorCode', quantity: 'errorCode', address: 1006, type: 'uint32' },
    { name: 'currentL1', quantity: 'currentL1', address: 1008, type: 'uint32', per: 0.001 },
    { name: 'currentL2', quantity: 'currentL2', address: 1010, type: 'uint32', per: 0.001 },
    { name: 'currentL3', quantity: 'currentL3', address: 1012, type: 'uint32', per: 0.001 },
    { name: 'activePower', quantity: 'power', address: 1020, type: 'uint32', per: 0.001 },
    { name: 'totalEnergy', quantity: 'energy', address: 1036, type: 'uint32', per: 0.1 },
    { name: 'voltageL1', quantity: 'voltageL1', address: 1040, type: 'uint32' },
    { name: 'voltageL2', quantity: 'voltageL2', address: 1042, type: 'uint32' },
    { name: 'voltageL3', quantity: 'voltageL3', address: 1044, type: 'uint32' },
    { name: 'maxChargingCurrent', quantity: 'appliedCurrent', address: 1100, type: 'uint32', per: 0.001 },
    { name: 'sessionEnergy', quantity: 'sessionEnergy', address: 1502, type: 'uint32', per: 0.1 },
    {
      name: 'setChargingCurrent',
      quantity: 'currentLimit',
      address: 5004,
      type: 'uint16',
      per: 0.001,
      access: 'w',
      min: 0,
      max: 32,
    },
    {
      name: 'failsafeCurrent',
      quantity: 'fallbackCurrent',
      address: 5016,
      type: 'uint16',
      per: 0.001,
      access: 'w',
      min: 0,
      max: 32,
    },
    {
      name: 'failsafeTimeout',
      quantity: 'revertTimeout',
      address: 5018,
      type: 'uint16',
      access: 'w',
      min: 10,
      max: 600,
    },
  ],
  // KEBA's own codes are 0 start-up .. 5; "6" is this style's idle with no vehicle.
  status: { Preparing: 0, SuspendedEVSE: 1, SuspendedEV: 2, Charging: 3, Faulted: 4, Unavailable: 5, Available: 6 },
  charger: { phases: 3, bidirectional: false, revertS: 0, fallbackA: 0, maxCurrentA: 32 },
};

/**
 * Wallbox-like Quasar V2G (DC, bidirectional): control registers from
 * 0x0051, a signed power set-point at 0x0104 taken only in remote control
 * with power set-points selected, measurements from 0x0207; SoC reads
 * 0xFFFF with no vehicle.
 */
const QUASAR_LIKE: SimDeviceMap = {
  vendor: 'Wallbox-like',
  model: 'Quasar V2G',
  table: 'holding',
  blocks: [
    { from: 0x0050, to: 0x0053 },
    { from: 0x0100, to: 0x0105 },
    { from: 0x0200, to: 0x021f },
  ],
  points: [
    {
      name: 'controlMode',
      quantity: 'controlMode',
      address: 0x0051,
      type: 'uint16',
      access: 'rw',
      min: 0,
      max: 1,
      initial: 0,
    },
    {
      name: 'commTimeout',
      quantity: 'revertTimeout',
      address: 0x0052,
      type: 'uint16',
      access: 'rw',
      min: 10,
      max: 600,
      initial: 30,
    },
    {
      name: 'setpointType',
      quantity: 'setpointType',
      address: 0x0053,
      type: 'uint16',
      access: 'rw',
      min: 0,
      max: 1,
      initial: 0,
    },
    {
      name: 'powerSetpoint',
      quantity: 'powerSetpoint',
      address: 0x0104,
      type: 'int16',
      access: 'rw',
      min: -7400,
      max: 7400,
      initial: 0,
    },
    { name: 'current', quantity: 'currentL1', address: 0x0207, type: 'int16', per: 0.1 },
    { name: 'acPower', quantity: 'power', address: 0x020e, type: 'int16' },
    { name: 'status', quantity: 'status', address: 0x0219, type: 'uint16' },
    { name: 'soc', quantity: 'soc', address: 0x021a, type: 'uint16' },
  ],
  status: { Available: 0, Charging: 1, SuspendedEV: 2, SuspendedEVSE: 3, Faulted: 7 },
  charger: { phases: 1, bidirectional: true, revertS: 30, fallbackA: 0, maxCurrentA: 32, needsRemoteControl: true },
};

export const SIM_DEVICE_MAPS: ReadonlyMap<string, SimDeviceMap> = new Map([
  ['eastron-sdm630', SDM630],
  ['alfen-eve', ALFEN_LIKE],
  ['keba-p30', KEBA_LIKE],
  ['wallbox-quasar', QUASAR_LIKE],
]);

/** A map by name, or the map itself. */
export function simDeviceMap(device: string | SimDeviceMap): SimDeviceMap {
  if (typeof device !== 'string') return device;
  const map = SIM_DEVICE_MAPS.get(device);
  if (!map)
    throw new Error(`no simulated Modbus device "${device}" (known: ${[...SIM_DEVICE_MAPS.keys()].join(', ')})`);
  return map;
}
