/**
 * OCPP message types per version, from typed-ocpp (generated from the same
 * OCA JSON schemas the validators use). Payloads the gateway builds itself
 * are checked against them at compile time.
 */
export type * as V16 from 'typed-ocpp/dist/ocpp16/types.js';
export type * as V201 from 'typed-ocpp/dist/ocpp20/types.js';
export type * as V21 from 'typed-ocpp/dist/ocpp21/types.js';
