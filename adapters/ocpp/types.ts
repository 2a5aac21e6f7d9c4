/**
 * OCPP message types per version, from typed-ocpp (generated from the same
 * OCA JSON schemas the validators use). Payloads the gateway builds itself
 * are checked against them at compile time.
 */
export type * as V16 from 'typed-ocpp/dist/ocpp16/types.js';
export type * as V201 from 'typed-ocpp/dist/ocpp20/types.js';
export type * as V21 from 'typed-ocpp/dist/ocpp21/types.js';

/**
 * A payload the gateway relays without reading it (CMS ↔ charger pass-through,
 * outbox rows). Payloads the gateway reads are narrowed to the typed-ocpp
 * message of their action and version, after ocpp-rpc's strict validation.
 */
export type Payload = Record<string, unknown>;
