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

export interface SignalView {
  readonly kind: string;
  readonly value: number;
  readonly unit: string;
  readonly source: string;
  readonly eventId: string;
  readonly eventName?: string;
  readonly start: string;
  readonly end?: string;
}

/** Same shape as `GridEventInfo` in `src/api/providers.ts`, so the service can be passed as the API's grid provider. */
export interface GridEventView {
  readonly id: string;
  readonly source: string;
  readonly kind: string;
  readonly start: number;
  readonly end?: number;
  readonly value?: number;
  readonly unit?: string;
  readonly status: 'pending' | 'active' | 'completed' | 'cancelled';
  readonly detail?: Readonly<Record<string, unknown>>;
}
