import { createRPCError } from 'ocpp-rpc';
import { type OcppProtocol, actionsOf } from './protocol.js';
import { validatorFor } from './validators.js';

const known = new Map<OcppProtocol, ReadonlySet<string>>();

function hasAction(protocol: OcppProtocol, method: string): boolean {
  let set = known.get(protocol);
  if (!set) {
    set = new Set(actionsOf(protocol));
    known.set(protocol, set);
  }
  return set.has(method);
}

/**
 * Each frame is checked once against the OCA schemas, by the leg that
 * receives it (ocpp-rpc's strict mode would check a proxied frame again on
 * the way out, on the other leg): a CALL here, before any handler sees it,
 * and a CALLRESULT in `rpc/call.ts`. Frames the gateway builds itself are
 * checked before they are sent. Throws the RPC error ocpp-rpc's strict
 * mode throws (its client turns it into the spec's CALLERROR); an action
 * without a schema is `NotImplemented`, as for a method without a handler.
 */
export function checkCall(protocol: OcppProtocol, method: string, params: unknown): void {
  if (!hasAction(protocol, method)) throw createRPCError('NotImplemented', `Unable to handle '${method}' calls`, {});
  validatorFor(protocol).validate(`urn:${method}.req`, params);
}

/** An answer the gateway built itself (local answers, merged authorisations), checked before it goes out. */
export function checkAnswer(protocol: OcppProtocol, method: string, result: unknown): void {
  validatorFor(protocol).validate(`urn:${method}.conf`, result);
}
