import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { Clock, TimerHandle } from '../../../src/model/clock.js';
import {
  decodeFrame,
  encodeCall,
  encodeError,
  encodeResult,
  isBad,
  type Json,
  OcppCallError,
  type OcppVersion,
} from './wire.js';

/** Returned by a call handler that wants the call left unanswered (a lost answer). */
export const NO_ANSWER: unique symbol = Symbol('no answer');

export type CallHandler = (action: string, payload: Json, messageId: string) => Promise<Json | typeof NO_ANSWER>;

export class CallTimeout extends Error {
  constructor(action: string) {
    super(`${action}: no answer in time`);
    this.name = 'CallTimeout';
  }
}

export interface PeerOptions {
  readonly clock: Clock;
  readonly protocol: OcppVersion;
  readonly onCall: CallHandler;
  /** Default wait for an answer, ms (on the injected clock). */
  readonly callTimeoutMs?: number;
}

interface Pending {
  readonly action: string;
  readonly resolve: (res: Json) => void;
  readonly reject: (err: Error) => void;
  readonly timer: TimerHandle;
}

/**
 * One OCPP-J connection, either end: sends CALLs and matches their answers
 * by message id, answers incoming CALLs through the handler, and turns a
 * malformed incoming CALL into the CALLERROR the spec asks for. Knows
 * nothing of chargers or a CMS.
 */
export class OcppPeer {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly ws: WebSocket,
    private readonly opts: PeerOptions,
  ) {
    ws.on('message', (data) => this.onMessage(String(data)));
    ws.on('close', () => this.failAll(new Error('connection closed')));
    // A socket error is followed by 'close'; listening keeps it from being thrown.
    ws.on('error', () => {});
  }

  get protocol(): OcppVersion {
    return this.opts.protocol;
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Send a CALL; the id is the caller's when a message is resent (same id, like a real device). */
  call(action: string, payload: Json, messageId: string = randomUUID(), timeoutMs?: number): Promise<Json> {
    if (!this.open) return Promise.reject(new Error('socket not open'));
    if (this.pending.has(messageId)) return Promise.reject(new Error(`message id ${messageId} already in flight`));
    return new Promise<Json>((resolve, reject) => {
      const timer = this.opts.clock.setTimeout(
        () => {
          this.pending.delete(messageId);
          reject(new CallTimeout(action));
        },
        timeoutMs ?? this.opts.callTimeoutMs ?? 30_000,
      );
      this.pending.set(messageId, { action, resolve, reject, timer });
      this.ws.send(encodeCall(messageId, action, payload));
    });
  }

  /** Send any text as it is (tests of the other side's frame handling). */
  sendRaw(text: string): void {
    if (this.open) this.ws.send(text);
  }

  close(): void {
    this.ws.close(1000);
  }

  /** Drop the TCP connection without a closing handshake (a cable pulled). */
  terminate(): void {
    this.ws.terminate();
  }

  private onMessage(text: string): void {
    const f = decodeFrame(text);
    if (isBad(f)) {
      if (f.id !== undefined) this.sendRaw(encodeError(f.id, f.code, f.description));
      return;
    }
    if (f.type === 2) {
      void this.answer(f.id, f.action, f.payload);
      return;
    }
    const p = this.pending.get(f.id);
    if (!p) return;
    this.pending.delete(f.id);
    this.opts.clock.clearTimeout(p.timer);
    if (f.type === 3) p.resolve(f.payload);
    else p.reject(new OcppCallError(f.code, f.description, f.details));
  }

  private async answer(id: string, action: string, payload: Json): Promise<void> {
    try {
      const res = await this.opts.onCall(action, payload, id);
      if (res !== NO_ANSWER) this.sendRaw(encodeResult(id, res));
    } catch (err) {
      const e = err instanceof OcppCallError ? err : new OcppCallError('InternalError', String(err));
      this.sendRaw(encodeError(id, e.code, e.message, e.details));
    }
  }

  private failAll(err: Error): void {
    for (const [id, p] of this.pending) {
      this.opts.clock.clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
  }
}
