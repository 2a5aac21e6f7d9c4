import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import type { VirtualClock } from '../../src/model/clock.js';

/**
 * Test peers for the simulators written straight on `ws` and JSON arrays,
 * sharing no code with the simulators or the gateway: the simulators are
 * checked from outside, as a real central system or charger sees them.
 */

type Json = Record<string, unknown>;

export interface SeenCall {
  readonly id: string;
  readonly action: string;
  readonly payload: Json;
}

/** What a test started, stopped last-first after it (afterEach). */
export class Cleanups {
  private readonly fns: Array<() => unknown> = [];

  push(fn: () => unknown): void {
    this.fns.push(fn);
  }

  async run(): Promise<void> {
    for (const fn of this.fns.splice(0).reverse()) await fn();
  }
}

/** Waits for `pred` in real time (sockets), failing with `what`. */
export async function until(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Move a virtual clock forward in steps, letting socket traffic of each step through. */
export async function drive(clock: VirtualClock, ms: number, stepMs = 1000): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    clock.advance(Math.min(stepMs, ms - t));
    await new Promise((r) => setTimeout(r, 4));
  }
}

/** A frame pump over one socket: records CALLs, answers them, and makes calls of its own. */
class RawEnd {
  readonly calls: SeenCall[] = [];
  private readonly waiting = new Map<string, (frame: unknown[]) => void>();

  constructor(
    readonly ws: WebSocket,
    private readonly answer: (action: string, payload: Json) => Json | null,
  ) {
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as unknown[];
      if (frame[0] === 2) {
        const call = { id: frame[1] as string, action: frame[2] as string, payload: frame[3] as Json };
        this.calls.push(call);
        const res = this.answer(call.action, call.payload);
        if (res !== null) ws.send(JSON.stringify([3, call.id, res]));
        return;
      }
      this.waiting.get(frame[1] as string)?.(frame);
    });
  }

  of(action: string): SeenCall[] {
    return this.calls.filter((c) => c.action === action);
  }

  /** Send a CALL and resolve with the answer frame ([3, id, payload] or [4, id, code, ...]). */
  call(action: string, payload: Json, id: string = randomUUID(), timeoutMs = 3000): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${action}: no answer`));
      }, timeoutMs);
      this.waiting.set(id, (frame) => {
        clearTimeout(t);
        this.waiting.delete(id);
        resolve(frame);
      });
      this.ws.send(JSON.stringify([2, id, action, payload]));
    });
  }

  /** The payload of a CALLRESULT; throws on a CALLERROR. */
  async result(action: string, payload: Json): Promise<Json> {
    const f = await this.call(action, payload);
    if (f[0] !== 3) throw new Error(`${action}: ${JSON.stringify(f)}`);
    return f[2] as Json;
  }
}

/** What a plain central system answers; `null` leaves a call unanswered. */
export function plainAnswer(clock: VirtualClock, txId = 42): (action: string, payload: Json) => Json | null {
  return (action) => {
    switch (action) {
      case 'BootNotification':
        return { status: 'Accepted', currentTime: new Date(clock.now()).toISOString(), interval: 300 };
      case 'Authorize':
        return { idTagInfo: { status: 'Accepted' }, idTokenInfo: { status: 'Accepted' } };
      case 'StartTransaction':
        return { transactionId: txId, idTagInfo: { status: 'Accepted' } };
      default:
        return {};
    }
  };
}

export interface RawCentral {
  readonly url: string;
  /** The charger's connection, once it connected. */
  end(): RawEnd;
  readonly handshake: { path?: string; protocol?: string; authorization?: string };
  close(): Promise<void>;
}

/** A bare central system on port 0 speaking whichever OCPP subprotocol the charger offers. */
export async function startRawCentral(answer: (action: string, payload: Json) => Json | null): Promise<RawCentral> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: (p) => [...p][0] ?? false });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  let current: RawEnd | undefined;
  const handshake: { path?: string; protocol?: string; authorization?: string } = {};
  wss.on('connection', (ws, req) => {
    handshake.path = req.url;
    handshake.protocol = ws.protocol;
    if (req.headers.authorization) handshake.authorization = req.headers.authorization;
    current = new RawEnd(ws, answer);
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ocpp`,
    handshake,
    end() {
      if (!current) throw new Error('no charger connected');
      return current;
    },
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

/** A bare charger connection; rejects with the HTTP status when the server refuses the upgrade. */
export async function connectRaw(
  url: string,
  protocols: string[],
  headers: Record<string, string> = {},
  answer: (action: string, payload: Json) => Json | null = () => ({ status: 'Accepted' }),
): Promise<RawEnd> {
  const ws = new WebSocket(url, protocols, { headers });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (req, res) => {
      req.destroy();
      reject(new Error(`HTTP ${res.statusCode}`));
    });
    ws.once('error', reject);
  });
  return new RawEnd(ws, answer);
}
