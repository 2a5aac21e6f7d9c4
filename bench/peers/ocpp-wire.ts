/**
 * A tiny OCPP-J codec for the bench peers. Written here on purpose instead of
 * importing the gateway's rpc module: a peer that shared the gateway's codec
 * would confirm the gateway's own framing bugs.
 */
import type { WebSocket } from 'ws';
import { monoMs } from './clock.js';

export type Json = Record<string, unknown>;

/** [2, id, action, payload] | [3, id, payload] | [4, id, code, description, details] */
export type Frame =
  | { kind: 'call'; id: string; action: string; payload: Json }
  | { kind: 'result'; id: string; payload: Json }
  | { kind: 'error'; id: string; code: string; description: string };

export function decode(data: unknown): Frame | undefined {
  let msg: unknown;
  try {
    msg = JSON.parse(String(data));
  } catch {
    return undefined;
  }
  if (!Array.isArray(msg)) return undefined;
  const [type, id] = msg as [unknown, unknown];
  if (typeof id !== 'string') return undefined;
  if (type === 2) return { kind: 'call', id, action: String(msg[2]), payload: (msg[3] ?? {}) as Json };
  if (type === 3) return { kind: 'result', id, payload: (msg[2] ?? {}) as Json };
  if (type === 4) return { kind: 'error', id, code: String(msg[2]), description: String(msg[3] ?? '') };
  return undefined;
}

export const encodeCall = (id: string, action: string, payload: Json) => JSON.stringify([2, id, action, payload]);
export const encodeResult = (id: string, payload: Json) => JSON.stringify([3, id, payload]);
export const encodeError = (id: string, code: string, description: string) =>
  JSON.stringify([4, id, code, description, {}]);

interface Pending {
  readonly t0: number;
  readonly resolve: (r: { payload: Json; ms: number }) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Answers a call: a result payload, or `undefined` for a NotImplemented CALLERROR. */
export type CallHandler = (action: string, payload: Json) => Json | undefined;

/**
 * One OCPP-J endpoint on an open socket: outgoing calls with their round-trip
 * time (monoMs(), the system-wide monotonic clock), incoming calls answered by
 * `handler`. Both the charger and the CMS peer use it.
 */
export class Endpoint {
  private seq = 0;
  private readonly pending = new Map<string, Pending>();

  constructor(
    readonly ws: WebSocket,
    private readonly handler: CallHandler,
    private readonly timeoutMs = 30_000,
    /** Seen before the handler runs, with the arrival time (reaction bench). */
    private readonly onCall?: (action: string, payload: Json, at: number) => void,
  ) {
    ws.on('message', (data) => this.receive(data));
    ws.on('close', () => this.failAll(new Error('socket closed')));
  }

  call(action: string, payload: Json): Promise<{ payload: Json; ms: number }> {
    const id = `b${(this.seq++).toString(36)}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${action} timed out`));
      }, this.timeoutMs);
      this.pending.set(id, { t0: monoMs(), resolve, reject, timer });
      this.ws.send(encodeCall(id, action, payload), (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.pending.delete(id);
        reject(err);
      });
    });
  }

  private receive(data: unknown): void {
    const at = monoMs();
    const f = decode(data);
    if (!f) return;
    if (f.kind === 'call') {
      this.onCall?.(f.action, f.payload, at);
      const res = this.handler(f.action, f.payload);
      this.ws.send(res ? encodeResult(f.id, res) : encodeError(f.id, 'NotImplemented', f.action));
      return;
    }
    const p = this.pending.get(f.id);
    if (!p) return;
    this.pending.delete(f.id);
    clearTimeout(p.timer);
    if (f.kind === 'result') p.resolve({ payload: f.payload, ms: at - p.t0 });
    else p.reject(new Error(`CALLERROR ${f.code} ${f.description}`));
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }
}
