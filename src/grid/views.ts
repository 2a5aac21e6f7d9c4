import type { SignalKind } from '../model/grid.js';

/** Unit of each signal kind in the API's grid view. */
export const UNITS: Record<SignalKind, string> = {
  importLimit: 'W',
  exportLimit: 'W',
  setpoint: 'W',
  price: 'per kWh',
  simple: 'level',
  ghg: 'g CO2 per kWh',
};

/** OpenADR payload type of each signal kind (the API's names). */
export const OPENADR_KIND: Record<SignalKind, string> = {
  importLimit: 'IMPORT_CAPACITY_LIMIT',
  exportLimit: 'EXPORT_CAPACITY_LIMIT',
  setpoint: 'DISPATCH_SETPOINT',
  price: 'PRICE',
  simple: 'SIMPLE',
  ghg: 'GHG',
};
