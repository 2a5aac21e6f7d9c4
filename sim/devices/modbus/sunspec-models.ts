import type { SimRegisterType } from './registers.js';

/**
 * The SunSpec models the simulated devices implement, written from the
 * SunSpec Information Model tables (offsets counted from the model's ID
 * register: ID = 0, L = 1, first point = 2). Only what a simulated device
 * carries is listed; every other register of the model reads as 0, the
 * listed ones start "not implemented" until the device fills them.
 */
export interface SimSunSpecPoint {
  readonly name: string;
  readonly offset: number;
  readonly type: SimRegisterType;
  /** Scale-factor point in the same model. */
  readonly sf?: string;
  /** Registers, for strings. */
  readonly length?: number;
  readonly writable?: boolean;
}

export interface SimSunSpecModel {
  readonly id: number;
  /** The L register: registers after ID and L. */
  readonly length: number;
  readonly points: readonly SimSunSpecPoint[];
}

type Row = [name: string, offset: number, type: SimRegisterType, sf?: string];

/** A model from compact rows; `writable` names the points a client may write. */
function model(id: number, length: number, rows: readonly Row[], writable: readonly string[] = []): SimSunSpecModel {
  const w = new Set(writable);
  const points = rows.map(([name, offset, type, sf]) => ({
    name,
    offset,
    type,
    ...(sf ? { sf } : {}),
    ...(w.has(name) ? { writable: true } : {}),
  }));
  return { id, length, points };
}

const COMMON: SimSunSpecModel = {
  id: 1,
  length: 66,
  points: [
    { name: 'Mn', offset: 2, type: 'string', length: 16 },
    { name: 'Md', offset: 18, type: 'string', length: 16 },
    { name: 'Opt', offset: 34, type: 'string', length: 8 },
    { name: 'Vr', offset: 42, type: 'string', length: 8 },
    { name: 'SN', offset: 50, type: 'string', length: 16 },
    { name: 'DA', offset: 66, type: 'uint16', writable: true },
  ],
};

/** 103: three-phase inverter, integer + scale factor. */
const INVERTER_3P = model(103, 50, [
  ['A', 2, 'uint16', 'A_SF'],
  ['AphA', 3, 'uint16', 'A_SF'],
  ['AphB', 4, 'uint16', 'A_SF'],
  ['AphC', 5, 'uint16', 'A_SF'],
  ['A_SF', 6, 'sunssf'],
  ['PhVphA', 10, 'uint16', 'V_SF'],
  ['PhVphB', 11, 'uint16', 'V_SF'],
  ['PhVphC', 12, 'uint16', 'V_SF'],
  ['V_SF', 13, 'sunssf'],
  ['W', 14, 'int16', 'W_SF'],
  ['W_SF', 15, 'sunssf'],
  ['Hz', 16, 'uint16', 'Hz_SF'],
  ['Hz_SF', 17, 'sunssf'],
  ['WH', 24, 'acc32', 'WH_SF'],
  ['WH_SF', 26, 'sunssf'],
  ['DCW', 31, 'int16', 'DCW_SF'],
  ['DCW_SF', 32, 'sunssf'],
  ['TmpCab', 33, 'int16', 'Tmp_SF'],
  ['Tmp_SF', 37, 'sunssf'],
  ['St', 38, 'enum16'],
  ['Evt1', 40, 'bitfield32'],
]);

/** 203: wye-connected three-phase meter. */
const METER_WYE = model(203, 105, [
  ['A', 2, 'int16', 'A_SF'],
  ['AphA', 3, 'int16', 'A_SF'],
  ['AphB', 4, 'int16', 'A_SF'],
  ['AphC', 5, 'int16', 'A_SF'],
  ['A_SF', 6, 'sunssf'],
  ['PhV', 7, 'int16', 'V_SF'],
  ['PhVphA', 8, 'int16', 'V_SF'],
  ['PhVphB', 9, 'int16', 'V_SF'],
  ['PhVphC', 10, 'int16', 'V_SF'],
  ['PPV', 11, 'int16', 'V_SF'],
  ['V_SF', 15, 'sunssf'],
  ['Hz', 16, 'int16', 'Hz_SF'],
  ['Hz_SF', 17, 'sunssf'],
  ['W', 18, 'int16', 'W_SF'],
  ['WphA', 19, 'int16', 'W_SF'],
  ['WphB', 20, 'int16', 'W_SF'],
  ['WphC', 21, 'int16', 'W_SF'],
  ['W_SF', 22, 'sunssf'],
  ['VA', 23, 'int16', 'VA_SF'],
  ['VA_SF', 27, 'sunssf'],
  ['VAR', 28, 'int16', 'VAR_SF'],
  ['VAR_SF', 32, 'sunssf'],
  ['PF', 33, 'int16', 'PF_SF'],
  ['PF_SF', 37, 'sunssf'],
  ['TotWhExp', 38, 'acc32', 'TotWh_SF'],
  ['TotWhImp', 46, 'acc32', 'TotWh_SF'],
  ['TotWh_SF', 54, 'sunssf'],
  ['Evt', 105, 'bitfield32'],
]);

/** 124: basic storage controls; rates in % of WChaMax. */
const STORAGE = model(
  124,
  24,
  [
    ['WChaMax', 2, 'uint16', 'WChaMax_SF'],
    ['WChaGra', 3, 'uint16', 'WChaDisChaGra_SF'],
    ['WDisChaGra', 4, 'uint16', 'WChaDisChaGra_SF'],
    ['StorCtl_Mod', 5, 'bitfield16'],
    ['MinRsvPct', 7, 'uint16', 'MinRsvPct_SF'],
    ['ChaState', 8, 'uint16', 'ChaState_SF'],
    ['ChaSt', 11, 'enum16'],
    ['OutWRte', 12, 'int16', 'InOutWRte_SF'],
    ['InWRte', 13, 'int16', 'InOutWRte_SF'],
    ['InOutWRte_WinTms', 14, 'uint16'],
    ['InOutWRte_RvrtTms', 15, 'uint16'],
    ['InOutWRte_RmpTms', 16, 'uint16'],
    ['ChaGriSet', 17, 'enum16'],
    ['WChaMax_SF', 18, 'sunssf'],
    ['WChaDisChaGra_SF', 19, 'sunssf'],
    ['MinRsvPct_SF', 21, 'sunssf'],
    ['ChaState_SF', 22, 'sunssf'],
    ['InOutWRte_SF', 25, 'sunssf'],
  ],
  [
    'StorCtl_Mod',
    'MinRsvPct',
    'OutWRte',
    'InWRte',
    'InOutWRte_WinTms',
    'InOutWRte_RvrtTms',
    'InOutWRte_RmpTms',
    'ChaGriSet',
  ],
);

/** 802: battery base model. */
const BATTERY = model(
  802,
  62,
  [
    ['AHRtg', 2, 'uint16', 'AHRtg_SF'],
    ['WHRtg', 3, 'uint16', 'WHRtg_SF'],
    ['WChaRteMax', 4, 'uint16', 'WChaDisChaMax_SF'],
    ['WDisChaRteMax', 5, 'uint16', 'WChaDisChaMax_SF'],
    ['SoC', 11, 'uint16', 'SoC_SF'],
    ['SoH', 13, 'uint16', 'SoH_SF'],
    ['ChaSt', 16, 'enum16'],
    ['State', 22, 'enum16'],
    ['Evt1', 26, 'bitfield32'],
    ['V', 34, 'uint16', 'V_SF'],
    ['A', 44, 'int16', 'A_SF'],
    ['W', 47, 'int16', 'W_SF'],
    ['SetOp', 50, 'enum16'],
    ['AHRtg_SF', 52, 'sunssf'],
    ['WHRtg_SF', 53, 'sunssf'],
    ['WChaDisChaMax_SF', 54, 'sunssf'],
    ['SoC_SF', 56, 'sunssf'],
    ['SoH_SF', 58, 'sunssf'],
    ['V_SF', 59, 'sunssf'],
    ['A_SF', 61, 'sunssf'],
    ['W_SF', 63, 'sunssf'],
  ],
  ['SetOp'],
);

export const SIM_SUNSPEC_MODELS: ReadonlyMap<number, SimSunSpecModel> = new Map(
  [COMMON, INVERTER_3P, METER_WYE, STORAGE, BATTERY].map((m) => [m.id, m]),
);
