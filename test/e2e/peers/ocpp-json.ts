import { randomUUID } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

/**
 * Independent OCPP-J peers for end-to-end tests: plain `ws` and JSON
 * arrays, nothing of the gateway's codecs or validators. They behave like a
 * plain CMS and a plain charger: answer what they are asked, record what
 * they receive.
 */

type Json = Record<string, unknown>;

export interface Received {
  readonly chargerId: string;
  readonly action: string;
  readonly msgId: string;
  readonly params: Json;
  readonly at: number;
}

/** One JSON-array OCPP-J socket: calls with answers, incoming calls to a handler. */
class JsonRpc {
  private readonly waiting = new Map<string, { resolve: (v: Json) => void; reject: (e: Error) => void }>();

  constructor(
    readonly ws: WebSocket,
    private readonly onCall: (action: string, msgId: string, params: Json) => Json | Promise<Json>,
  ) {
    ws.on('message', (data) => void this.onMessage(String(data)));
    ws.on('close', () => {
      for (const w of this.waiting.values()) w.reject(new Error('socket closed'));
      this.waiting.clear();
    });
  }

  call(action: string, params: Json, msgId: string = randomUUID(), timeoutMs = 10_000): Promise<Json> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(msgId);
        reject(new Error(`${action} timed out`));
      }, timeoutMs);
      this.waiting.set(msgId, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.ws.send(JSON.stringify([2, msgId, action, params]));
    });
  }

  private async onMessage(text: string): Promise<void> {
    const frame = JSON.parse(text) as unknown[];
    const [type, msgId] = frame as [number, string];
    if (type === 2) {
      const res = await this.onCall(frame[2] as string, msgId, (frame[3] ?? {}) as Json);
      this.ws.send(JSON.stringify([3, msgId, res]));
      return;
    }
    const w = this.waiting.get(msgId);
    if (!w) return;
    this.waiting.delete(msgId);
    if (type === 3) w.resolve((frame[2] ?? {}) as Json);
    else w.reject(new Error(`CALLERROR ${String(frame[2])}: ${String(frame[3])}`));
  }
}

export interface JsonCms {
  readonly url: string;
  readonly received: Received[];
  /** Transaction ids this CMS issued (1.6), in order. */
  readonly issued: number[];
  /** When each charger's link (re)connected, epoch ms. */
  readonly connectedAt: Map<string, number>;
  /** A CMS → charger call on a charger's link. */
  call(chargerId: string, action: string, params: Json): Promise<Json>;
  connected(chargerId: string): boolean;
  stop(): Promise<void>;
}

/**
 * A CMS that issues 1.6 transaction ids from `firstTxId` up (a fresh start
 * of such a CMS issues the same ids again) and accepts everything.
 */
export async function startJsonCms(opts: { port?: number; firstTxId?: number } = {}): Promise<JsonCms> {
  const received: Received[] = [];
  const issued: number[] = [];
  const connectedAt = new Map<string, number>();
  const links = new Map<string, JsonRpc>();
  let nextTx = opts.firstTxId ?? 1;
  const http: Server = createServer();
  const wss = new WebSocketServer({
    server: http,
    handleProtocols: (protocols) => [...protocols][0] ?? false,
  });
  wss.on('connection', (ws, req) => {
    const chargerId = decodeURIComponent((req.url ?? '').split('/').pop() ?? '');
    const v16 = ws.protocol === 'ocpp1.6';
    const rpc = new JsonRpc(ws, (action, msgId, params) => {
      received.push({ chargerId, action, msgId, params, at: Date.now() });
      const now = new Date().toISOString();
      switch (action) {
        case 'BootNotification':
          return { status: 'Accepted', currentTime: now, interval: 300 };
        case 'Heartbeat':
          return { currentTime: now };
        case 'Authorize':
          return v16 ? { idTagInfo: { status: 'Accepted' } } : { idTokenInfo: { status: 'Accepted' } };
        case 'StartTransaction': {
          const tx = nextTx++;
          issued.push(tx);
          return { transactionId: tx, idTagInfo: { status: 'Accepted' } };
        }
        case 'StopTransaction':
          return { idTagInfo: { status: 'Accepted' } };
        default:
          return {};
      }
    });
    links.set(chargerId, rpc);
    connectedAt.set(chargerId, Date.now());
    ws.on('close', () => {
      if (links.get(chargerId) === rpc) links.delete(chargerId);
    });
  });
  await new Promise<void>((r) => http.listen(opts.port ?? 0, '127.0.0.1', r));
  const port = (http.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    received,
    issued,
    connectedAt,
    connected: (id) => links.has(id),
    call: (id, action, params) => {
      const link = links.get(id);
      if (!link) throw new Error(`${id} not connected to the CMS`);
      return link.call(action, params);
    },
    stop: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}

export interface JsonCharger {
  readonly received: Received[];
  call(action: string, params: Json, msgId?: string): Promise<Json>;
  close(): Promise<void>;
}

/** A charger speaking `protocol` to the gateway; it accepts every call the gateway (or CMS) makes. */
export async function connectJsonCharger(url: string, protocol: 'ocpp1.6' | 'ocpp2.0.1'): Promise<JsonCharger> {
  const received: Received[] = [];
  const ws = new WebSocket(url, [protocol]);
  const id = url.split('/').pop() ?? '';
  // Listening before the socket opens: the gateway may call in the same packet as the upgrade answer.
  const rpc = new JsonRpc(ws, (action, msgId, params) => {
    received.push({ chargerId: id, action, msgId, params, at: Date.now() });
    return { status: 'Accepted' };
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    received,
    call: (action, params, msgId) => rpc.call(action, params, msgId),
    close: async () => {
      if (ws.readyState === WebSocket.CLOSED) return;
      await new Promise<void>((r) => {
        ws.once('close', () => r());
        ws.close();
      });
    },
  };
}

/** An HTTP receiver of webhooks: every POSTed JSON body. */
export async function startWebhookSink(): Promise<{ url: string; bodies: Json[]; stop: () => Promise<void> }> {
  const bodies: Json[] = [];
  const http = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => {
      text += String(c);
    });
    req.on('end', () => {
      bodies.push(JSON.parse(text) as Json);
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/hook`,
    bodies,
    stop: () => new Promise<void>((r) => http.close(() => r())),
  };
}
