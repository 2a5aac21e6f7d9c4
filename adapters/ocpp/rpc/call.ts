import { type RPCClient, createRPCError } from 'ocpp-rpc';
import type { Clock } from '../../../src/model/clock.js';
import { type OcppProtocol, isOcppProtocol } from './protocol.js';
import { validatorFor } from './validators.js';

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

/**
 * Answers to calls sent by `callWithId` that ocpp-rpc itself does not know:
 * it reports each as a `badMessage` ("CALLRESULT for unrecognised message
 * ID") right after the `response` event that settled our call. A socket's
 * bad-frame accounting asks `isOwn` so the gateway's own answers are not
 * counted as a misbehaving peer.
 */
export class OwnAnswers {
  private readonly ids = new Set<string>();

  /** `onInvalid`: an answer that failed the strict schema (ocpp-rpc reports its own as `strictValidationFailure`). */
  constructor(private readonly onInvalid?: (method: string, error: Error) => void) {}

  invalid(method: string, error: Error): void {
    this.onInvalid?.(method, error);
  }

  answered(msgId: string): void {
    this.ids.add(msgId);
  }

  /** Whether a `badMessage` event is the echo of an answer `callWithId` already took (consumed once). */
  isOwn(event: { error?: unknown }): boolean {
    const id = (event.error as { details?: { msgId?: unknown } } | undefined)?.details?.msgId;
    return typeof id === 'string' && this.ids.delete(id);
  }
}

export interface CallWithIdOptions {
  readonly clock: Clock;
  readonly timeoutMs: number;
  /** Where to note answers taken here, for the socket's bad-frame accounting. */
  readonly ownAnswers?: OwnAnswers;
  /**
   * `params` were checked against the schema already: a frame the other leg received and validated, passed on
   * (`rpc/schema.ts`: each frame is checked once, where it arrives). Gateway-built calls leave this unset.
   */
  readonly checked?: boolean;
}

const OPEN = 1;
const CALL_RESULT = 3;
const CALL_ERROR = 4;

interface ResponseEvent {
  readonly outbound: boolean;
  readonly payload: readonly unknown[];
}

/** One call sent by `callWithId`, waiting for its answer. */
interface Waiter {
  settle(type: typeof CALL_RESULT | typeof CALL_ERROR, rest: readonly unknown[]): void;
  gone(): void;
}

/** The two methods of ocpp-rpc 2.2's client that settle an answer by message id. */
interface AnswerMethods {
  _onCallResult(msgId: string, result: unknown): unknown;
  _onCallError(msgId: string, code: string, description: string, details: unknown): unknown;
}

/** Per socket: the calls `callWithId` has in flight on it. Weak, so a closed socket takes its entry along. */
const taps = new WeakMap<RPCClient, Map<string, Waiter>>();

/**
 * Answers to `callWithId` are taken where ocpp-rpc settles its own: its
 * client looks an answer's id up among the calls it made and, for an id it
 * does not know, throws an RPCError (stack trace and all), catches it and
 * emits `badMessage`. For a proxy every forwarded call is such an id, and
 * that detour cost more than the rest of the answer path (profiled: the
 * largest self time after the socket writes; 2.9 ms gateway CPU per message
 * at 1000 chargers). The socket's two settling methods are wrapped once: an
 * id of ours is settled here, any other goes on to ocpp-rpc unchanged.
 * Without those methods (another ocpp-rpc) `callWithId` falls back to the
 * public `response` event; test/adapters/ocpp/answer-tap.test.ts pins which path is in use.
 */
function tapOf(client: RPCClient): Map<string, Waiter> | undefined {
  const known = taps.get(client);
  if (known) return known;
  const c = client as unknown as AnswerMethods;
  if (typeof c._onCallResult !== 'function' || typeof c._onCallError !== 'function') return undefined;
  const waiting = new Map<string, Waiter>();
  const onResult = c._onCallResult;
  const onError = c._onCallError;
  c._onCallResult = function (this: unknown, msgId, result) {
    const w = waiting.get(msgId);
    if (!w) return onResult.call(this, msgId, result);
    waiting.delete(msgId);
    w.settle(CALL_RESULT, [result]);
  };
  c._onCallError = function (this: unknown, msgId, code, description, details) {
    const w = waiting.get(msgId);
    if (!w) return onError.call(this, msgId, code, description, details);
    waiting.delete(msgId);
    w.settle(CALL_ERROR, [code, description, details]);
  };
  const gone = (): void => {
    const all = [...waiting.values()];
    waiting.clear();
    for (const w of all) w.gone();
  };
  client.on('closing', gone);
  client.on('disconnect', gone);
  taps.set(client, waiting);
  return waiting;
}

/** Whether answers to `callWithId` on this socket are taken without ocpp-rpc's unknown-id detour (tests). */
export function answersTapped(client: RPCClient): boolean {
  return tapOf(client) !== undefined;
}

/**
 * Send a CALL with a message id chosen by the caller. ocpp-rpc's `call()`
 * always draws a fresh UUID; the proxy keeps the charger's (and the CMS's)
 * message ids so that a frame forwarded or replayed after a crash carries
 * the same id and a receiver can drop a repeat. The frame goes out through
 * `sendRaw`; the answer is taken as `tapOf` describes and checked against
 * the same strict schemas ocpp-rpc validates with. The caller serialises
 * its calls per socket (OCPP-J allows one outstanding CALL per direction),
 * so one message id is never in flight twice.
 */
export function callWithId(
  client: RPCClient,
  msgId: string,
  method: string,
  params: unknown,
  opts: CallWithIdOptions,
): Promise<unknown> {
  if (client.state !== OPEN) return Promise.reject(new Error('socket not open'));
  const protocol = client.protocol;
  const validator = isOcppProtocol(protocol) ? validatorFor(protocol as OcppProtocol) : undefined;
  if (!opts.checked) {
    try {
      // Throws the matching RPC error (FormationViolation, TypeConstraintViolation, ...).
      validator?.validate(`urn:${method}.req`, params);
    } catch (err) {
      return Promise.reject(err);
    }
  }
  const waiting = tapOf(client);
  if (!waiting) return callByEvent(client, msgId, method, params, opts, validator);
  if (waiting.has(msgId)) return Promise.reject(new Error(`message id ${msgId} already in flight`));
  return new Promise((resolve, reject) => {
    const timer = opts.clock.setTimeout(() => {
      waiting.delete(msgId);
      reject(new CallTimeoutError(method));
    }, opts.timeoutMs);
    waiting.set(msgId, {
      settle(type, rest) {
        opts.clock.clearTimeout(timer);
        settleAnswer(type, rest, method, validator, opts, resolve, reject);
      },
      gone() {
        opts.clock.clearTimeout(timer);
        reject(new Error('socket closed'));
      },
    });
    try {
      client.sendRaw(JSON.stringify([2, msgId, method, params]));
    } catch (err) {
      opts.clock.clearTimeout(timer);
      waiting.delete(msgId);
      reject(err);
    }
  });
}

function settleAnswer(
  type: typeof CALL_RESULT | typeof CALL_ERROR,
  rest: readonly unknown[],
  method: string,
  validator: ReturnType<typeof validatorFor> | undefined,
  opts: CallWithIdOptions,
  resolve: (v: unknown) => void,
  reject: (e: unknown) => void,
): void {
  if (type === CALL_ERROR) {
    const [code, description, details] = rest as [string, string, object | undefined];
    reject(createRPCError(code, description, details ?? {}));
    return;
  }
  try {
    validator?.validate(`urn:${method}.conf`, rest[0]);
    resolve(rest[0]);
  } catch (err) {
    opts.ownAnswers?.invalid(method, err as Error);
    reject(err);
  }
}

/** The public-API path: the answer from ocpp-rpc's `response` event (ocpp-rpc then reports it as a stray). */
function callByEvent(
  client: RPCClient,
  msgId: string,
  method: string,
  params: unknown,
  opts: CallWithIdOptions,
  validator: ReturnType<typeof validatorFor> | undefined,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      opts.clock.clearTimeout(timer);
      client.off('response', onResponse);
      client.off('disconnect', onGone);
      client.off('closing', onGone);
    };
    const onResponse = (ev: ResponseEvent): void => {
      const [type, id, ...rest] = ev.payload;
      if (ev.outbound || id !== msgId || (type !== CALL_RESULT && type !== CALL_ERROR)) return;
      done();
      opts.ownAnswers?.answered(msgId);
      settleAnswer(type, rest, method, validator, opts, resolve, reject);
    };
    const onGone = (): void => {
      done();
      reject(new Error('socket closed'));
    };
    const timer = opts.clock.setTimeout(() => {
      done();
      reject(new CallTimeoutError(method));
    }, opts.timeoutMs);
    client.on('response', onResponse);
    client.on('disconnect', onGone);
    client.on('closing', onGone);
    try {
      client.sendRaw(JSON.stringify([2, msgId, method, params]));
    } catch (err) {
      done();
      reject(err);
    }
  });
}
