import type { RegisterType } from '../codec.js';

/**
 * SunSpec information models the gateway understands, as data. Offsets are
 * counted from the model's own ID register (ID = 0, L = 1, first point = 2),
 * the way installers read them off a register dump.
 */
export interface SunSpecPoint {
  readonly name: string;
  readonly offset: number;
  readonly type: RegisterType;
  /** Name of the scale-factor point in the same model. */
  readonly sf?: string;
  readonly unit?: string;
  /** Registers, for strings. */
  readonly length?: number;
  readonly writable?: boolean;
}

export interface SunSpecModel {
  readonly id: number;
  readonly name: string;
  /** Value of the L register (registers after ID and L). */
  readonly length: number;
  readonly points: readonly SunSpecPoint[];
}

const p = (
  name: string,
  offset: number,
  type: RegisterType,
  extra: { sf?: string; unit?: string; length?: number; writable?: boolean } = {},
): SunSpecPoint => ({ name, offset, type, ...extra });

const COMMON: SunSpecModel = {
  id: 1,
  name: 'common',
  length: 66,
  points: [
    p('Mn', 2, 'string', { length: 16 }),
    p('Md', 18, 'string', { length: 16 }),
    p('Opt', 34, 'string', { length: 8 }),
    p('Vr', 42, 'string', { length: 8 }),
    p('SN', 50, 'string', { length: 16 }),
    p('DA', 66, 'uint16', { writable: true }),
  ],
};

/** Models 101–103: single, split and three phase inverter, integer + scale factor. */
function inverterInt(id: number, name: string): SunSpecModel {
  return {
    id,
    name,
    length: 50,
    points: [
      p('A', 2, 'uint16', { sf: 'A_SF', unit: 'A' }),
      p('AphA', 3, 'uint16', { sf: 'A_SF', unit: 'A' }),
      p('AphB', 4, 'uint16', { sf: 'A_SF', unit: 'A' }),
      p('AphC', 5, 'uint16', { sf: 'A_SF', unit: 'A' }),
      p('A_SF', 6, 'sunssf'),
      p('PhVphA', 10, 'uint16', { sf: 'V_SF', unit: 'V' }),
      p('PhVphB', 11, 'uint16', { sf: 'V_SF', unit: 'V' }),
      p('PhVphC', 12, 'uint16', { sf: 'V_SF', unit: 'V' }),
      p('V_SF', 13, 'sunssf'),
      p('W', 14, 'int16', { sf: 'W_SF', unit: 'W' }),
      p('W_SF', 15, 'sunssf'),
      p('Hz', 16, 'uint16', { sf: 'Hz_SF', unit: 'Hz' }),
      p('Hz_SF', 17, 'sunssf'),
      p('WH', 24, 'acc32', { sf: 'WH_SF', unit: 'Wh' }),
      p('WH_SF', 26, 'sunssf'),
      p('DCW', 31, 'int16', { sf: 'DCW_SF', unit: 'W' }),
      p('DCW_SF', 32, 'sunssf'),
      p('TmpCab', 33, 'int16', { sf: 'Tmp_SF', unit: 'C' }),
      p('Tmp_SF', 37, 'sunssf'),
      p('St', 38, 'enum16'),
      p('Evt1', 40, 'bitfield32'),
    ],
  };
}

/** Models 111–113: the same inverters with float32 points (no scale factors). */
function inverterFloat(id: number, name: string): SunSpecModel {
  return {
    id,
    name,
    length: 60,
    points: [
      p('A', 2, 'float32', { unit: 'A' }),
      p('AphA', 4, 'float32', { unit: 'A' }),
      p('AphB', 6, 'float32', { unit: 'A' }),
      p('AphC', 8, 'float32', { unit: 'A' }),
      p('PhVphA', 16, 'float32', { unit: 'V' }),
      p('PhVphB', 18, 'float32', { unit: 'V' }),
      p('PhVphC', 20, 'float32', { unit: 'V' }),
      p('W', 22, 'float32', { unit: 'W' }),
      p('Hz', 24, 'float32', { unit: 'Hz' }),
      p('WH', 32, 'float32', { unit: 'Wh' }),
      p('DCW', 38, 'float32', { unit: 'W' }),
      p('TmpCab', 40, 'float32', { unit: 'C' }),
      p('St', 48, 'enum16'),
      p('Evt1', 50, 'bitfield32'),
    ],
  };
}

/** Models 201–204: single, split, wye and delta meters, integer + scale factor. */
function meter(id: number, name: string): SunSpecModel {
  return {
    id,
    name,
    length: 105,
    points: [
      p('A', 2, 'int16', { sf: 'A_SF', unit: 'A' }),
      p('AphA', 3, 'int16', { sf: 'A_SF', unit: 'A' }),
      p('AphB', 4, 'int16', { sf: 'A_SF', unit: 'A' }),
      p('AphC', 5, 'int16', { sf: 'A_SF', unit: 'A' }),
      p('A_SF', 6, 'sunssf'),
      p('PhV', 7, 'int16', { sf: 'V_SF', unit: 'V' }),
      p('PhVphA', 8, 'int16', { sf: 'V_SF', unit: 'V' }),
      p('PhVphB', 9, 'int16', { sf: 'V_SF', unit: 'V' }),
      p('PhVphC', 10, 'int16', { sf: 'V_SF', unit: 'V' }),
      p('V_SF', 15, 'sunssf'),
      p('Hz', 16, 'int16', { sf: 'Hz_SF', unit: 'Hz' }),
      p('Hz_SF', 17, 'sunssf'),
      p('W', 18, 'int16', { sf: 'W_SF', unit: 'W' }),
      p('WphA', 19, 'int16', { sf: 'W_SF', unit: 'W' }),
      p('WphB', 20, 'int16', { sf: 'W_SF', unit: 'W' }),
      p('WphC', 21, 'int16', { sf: 'W_SF', unit: 'W' }),
      p('W_SF', 22, 'sunssf'),
      p('TotWhExp', 38, 'acc32', { sf: 'TotWh_SF', unit: 'Wh' }),
      p('TotWhImp', 46, 'acc32', { sf: 'TotWh_SF', unit: 'Wh' }),
      p('TotWh_SF', 54, 'sunssf'),
      p('Evt', 105, 'bitfield32'),
    ],
  };
}

/** Model 124: basic storage controls. Rates are % of WChaMax. */
const STORAGE: SunSpecModel = {
  id: 124,
  name: 'storage',
  length: 24,
  points: [
    p('WChaMax', 2, 'uint16', { sf: 'WChaMax_SF', unit: 'W' }),
    p('WChaGra', 3, 'uint16', { sf: 'WChaDisChaGra_SF', unit: '%' }),
    p('WDisChaGra', 4, 'uint16', { sf: 'WChaDisChaGra_SF', unit: '%' }),
    p('StorCtl_Mod', 5, 'bitfield16', { writable: true }),
    p('MinRsvPct', 7, 'uint16', { sf: 'MinRsvPct_SF', unit: '%', writable: true }),
    p('ChaState', 8, 'uint16', { sf: 'ChaState_SF', unit: '%' }),
    p('ChaSt', 11, 'enum16'),
    p('OutWRte', 12, 'int16', { sf: 'InOutWRte_SF', unit: '%', writable: true }),
    p('InWRte', 13, 'int16', { sf: 'InOutWRte_SF', unit: '%', writable: true }),
    p('InOutWRte_WinTms', 14, 'uint16', { unit: 's', writable: true }),
    p('InOutWRte_RvrtTms', 15, 'uint16', { unit: 's', writable: true }),
    p('InOutWRte_RmpTms', 16, 'uint16', { unit: 's', writable: true }),
    p('ChaGriSet', 17, 'enum16', { writable: true }),
    p('WChaMax_SF', 18, 'sunssf'),
    p('WChaDisChaGra_SF', 19, 'sunssf'),
    p('MinRsvPct_SF', 21, 'sunssf'),
    p('ChaState_SF', 22, 'sunssf'),
    p('InOutWRte_SF', 25, 'sunssf'),
  ],
};

/** Model 802: battery base model. */
const BATTERY: SunSpecModel = {
  id: 802,
  name: 'battery',
  length: 62,
  points: [
    p('AHRtg', 2, 'uint16', { sf: 'AHRtg_SF', unit: 'Ah' }),
    p('WHRtg', 3, 'uint16', { sf: 'WHRtg_SF', unit: 'Wh' }),
    p('WChaRteMax', 4, 'uint16', { sf: 'WChaDisChaMax_SF', unit: 'W' }),
    p('WDisChaRteMax', 5, 'uint16', { sf: 'WChaDisChaMax_SF', unit: 'W' }),
    p('SoC', 11, 'uint16', { sf: 'SoC_SF', unit: '%' }),
    p('SoH', 13, 'uint16', { sf: 'SoH_SF', unit: '%' }),
    p('ChaSt', 16, 'enum16'),
    p('State', 22, 'enum16'),
    p('Evt1', 26, 'bitfield32'),
    p('V', 34, 'uint16', { sf: 'V_SF', unit: 'V' }),
    p('A', 44, 'int16', { sf: 'A_SF', unit: 'A' }),
    p('W', 47, 'int16', { sf: 'W_SF', unit: 'W' }),
    p('SetOp', 50, 'enum16', { writable: true }),
    p('AHRtg_SF', 52, 'sunssf'),
    p('WHRtg_SF', 53, 'sunssf'),
    p('WChaDisChaMax_SF', 54, 'sunssf'),
    p('SoC_SF', 56, 'sunssf'),
    p('SoH_SF', 58, 'sunssf'),
    p('V_SF', 59, 'sunssf'),
    p('A_SF', 61, 'sunssf'),
    p('W_SF', 63, 'sunssf'),
  ],
};

export const SUNSPEC_MODELS: ReadonlyMap<number, SunSpecModel> = new Map(
  [
    COMMON,
    inverterInt(101, 'inverter_1p'),
    inverterInt(102, 'inverter_split'),
    inverterInt(103, 'inverter_3p'),
    inverterFloat(111, 'inverter_1p_float'),
    inverterFloat(112, 'inverter_split_float'),
    inverterFloat(113, 'inverter_3p_float'),
    meter(201, 'meter_1p'),
    meter(202, 'meter_split'),
    meter(203, 'meter_wye'),
    meter(204, 'meter_delta'),
    STORAGE,
    BATTERY,
  ].map((m) => [m.id, m]),
);

export const SUNSPEC_BASES = [40000, 0, 50000] as const;
/** "SunS" as two registers. */
export const SUNS_MARKER = [0x5375, 0x6e53] as const;
export const END_MODEL_ID = 0xffff;

export function isInverterModel(id: number): boolean {
  return (id >= 101 && id <= 103) || (id >= 111 && id <= 113);
}

export function isMeterModel(id: number): boolean {
  return id >= 201 && id <= 204;
}
