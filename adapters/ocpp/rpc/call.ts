import { type RPCClient, createRPCError } from 'ocpp-rpc';
import type { Clock } from '../../../src/model/clock.js';

/** A CALLERROR as received or to be sent. */
export interface CallErrorInfo {
  readonly code: string;
  readonly description: string;
  readonly details: unknown;
}

export class CallTimeoutError extends Error {
  constructor(method: string) {
    super(`${method}: no answer in time`);
    this.name = 'CallTimeoutError';
  }
}

/** The other side answered with a CALLERROR (as opposed to a timeout or a closed socket). */
export function callErrorOf(err: unknown): CallErrorInfo | undefined {
  if (err && typeof err === 'object' && 'rpcErrorCode' in err) {
    const e = err as { rpcErrorCode: string; message?: string; details?: unknown };
    return { code: e.rpcErrorCode, description: e.message ?? '', details: e.details ?? {} };
  }
  return undefined;
}

/** Re-throwable CALLERROR with the peer's code, description and details. */
export function toRpcError(info: CallErrorInfo): Error {
  return createRPCError(info.code, info.description, (info.details ?? {}) as object) as unknown as Error;
}

interface PendingCall {
  msgId: string;
  method: string;
  params: unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  abort: (reason: string) => void;
  promise: Promise<unknown>;
}

/** The parts of ocpp-rpc's client this module relies on (pinned ocpp-rpc 2.2). */
interface RpcInternals {
  _state: number;
  _protocol?: string;
  _strictProtocols: string[];
  _strictValidators: Map<string, { validate(id: string, params: unknown): void }>;
  _pendingCalls: Map<string, PendingCall>;
  sendRaw(message: string): void;
}

const OPEN = 1;

/**
 * Send a CALL with a message id chosen by the caller. ocpp-rpc's `call()`
 * always draws a fresh UUID; the proxy needs to keep the charger's (and
 * the CMS's) message ids so that a frame forwarded or replayed after a crash
 * carries the same id and a receiver can drop a repeat. Validation, answer
 * matching and strict checks of the answer stay ocpp-rpc's.
 */
export function callWithId(
  client: RPCClient,
  msgId: string,
  method: string,
  params: unknown,
  opts: { clock: Clock; timeoutMs: number },
): Promise<unknown> {
  const c = client as unknown as RpcInternals;
  if (c._state !== OPEN) return Promise.reject(new Error('socket not open'));
  if (c._pendingCalls.has(msgId)) return Promise.reject(new Error(`message id ${msgId} already in flight`));
  if (c._protocol !== undefined && c._strictProtocols.includes(c._protocol)) {
    // Throws the matching RPC error (FormationViolation, TypeConstraintViolation, ...).
    c._strictValidators.get(c._protocol)?.validate(`urn:${method}.req`, params);
  }
  let timer: ReturnType<Clock['setTimeout']> | undefined;
  const pending = { msgId, method, params } as PendingCall;
  pending.promise = new Promise((resolve, reject) => {
    pending.resolve = (v) => {
      opts.clock.clearTimeout(timer);
      c._pendingCalls.delete(msgId);
      resolve(v);
    };
    pending.reject = (e) => {
      opts.clock.clearTimeout(timer);
      c._pendingCalls.delete(msgId);
      reject(e);
    };
  });
  pending.abort = (reason) => pending.reject(new Error(reason));
  timer = opts.clock.setTimeout(() => pending.reject(new CallTimeoutError(method)), opts.timeoutMs);
  c._pendingCalls.set(msgId, pending);
  try {
    c.sendRaw(JSON.stringify([2, msgId, method, params]));
  } catch (err) {
    pending.reject(err);
  }
  return pending.promise;
}
