import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Clock } from '../../src/model/clock.js';
import { NO_ANSWER, OcppPeer } from '../devices/ocpp/peer.js';
import { type Json, OCPP_VERSIONS, OcppCallError, type OcppVersion, parseBasicAuth } from '../devices/ocpp/wire.js';
import { CmsBook, type CmsTransaction, type CmsTransactionV2 } from './cms-book.js';

export type { CmsTransaction, CmsTransactionV2 };
export type OcppProtocol = OcppVersion;

/** One call the CMS received, in arrival order. */
export interface CmsRecord {
  readonly seq: number;
  readonly identity: string;
  readonly protocol: OcppVersion;
  readonly messageId: string;
  readonly action: string;
  readonly payload: Json;
  readonly ts: number;
  /** Same charger and message id seen before (a resend of a message the CMS already had). */
  readonly duplicate: boolean;
}

export interface CmsSimOptions {
  readonly clock: Clock;
  readonly host?: string;
  readonly port?: number;
  /** Basic-auth passwords by charger id; chargers not listed connect without a password. */
  readonly passwords?: Readonly<Record<string, string>>;
  /** First transaction id issued (1.6). */
  readonly firstTransactionId?: number;
  /** idTags answered `Invalid`. */
  readonly invalidIdTags?: readonly string[];
  /** Serve wss:// with this certificate (PEM). */
  readonly tls?: {
    readonly cert: string;
    readonly key: string;
    /** Require a client certificate signed by this CA (security profile 3). */
    readonly clientCa?: string;
  };
  /** Wait for a charger's answer to a CMS call, ms (injected clock). */
  readonly callTimeoutMs?: number;
}

interface Conn {
  readonly peer: OcppPeer;
  readonly ws: WebSocket;
  readonly closed: Promise<void>;
}

/**
 * A cloud CMS for OCPP 1.6J, 2.0.1 and 2.1 on plain `ws` with the
 * simulators' own codec: accepts boots, authorises, issues transaction ids,
 * records every call it receives in order with its message id (a resend
 * under a known id is answered as before and flagged `duplicate`), can be
 * switched into an outage, can lose answers, and sends CMS→charger calls.
 */
export class CmsSim {
  readonly records: CmsRecord[] = [];
  /** Client certificate CN each charger connection presented (security profile 3). */
  readonly clientCertificates = new Map<string, string>();
  private readonly book: CmsBook;
  private readonly conns = new Map<string, Conn>();
  private readonly answers = new Map<string, Json>();
  private readonly failures = new Map<string, { code: string; times: number }>();
  private readonly drops: Array<{ action?: string; times: number }> = [];
  private wss?: WebSocketServer;
  private http?: Server;
  private boundPort = 0;
  private outage = false;
  private silent = false;
  private seq = 0;
  private waiters: Array<() => void> = [];

  constructor(private readonly opts: CmsSimOptions) {
    this.book = new CmsBook(opts);
  }

  /** 1.6 transactions by the id the CMS issued. */
  get transactions(): Map<number, CmsTransaction> {
    return this.book.transactions;
  }

  /** 2.x transactions by the charger's id. */
  get transactionsV2(): Map<string, CmsTransactionV2> {
    return this.book.transactionsV2;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Base URL; the proxy appends `/<chargerId>`. */
  get url(): string {
    return `${this.opts.tls ? 'wss' : 'ws'}://${this.opts.host ?? '127.0.0.1'}:${this.boundPort}/ocpp`;
  }

  connectedIds(): string[] {
    return [...this.conns.keys()];
  }

  async start(): Promise<void> {
    const wss = new WebSocketServer({
      noServer: true,
      // The first subprotocol the charger offers that the CMS speaks.
      handleProtocols: (offered) => [...offered].find((p) => OCPP_VERSIONS.includes(p as OcppVersion)) ?? false,
    });
    this.wss = wss;
    const notFound = (_req: IncomingMessage, res: ServerResponse) => {
      res.statusCode = 404;
      res.end();
    };
    const tls = this.opts.tls;
    const server = tls
      ? createTlsServer(
          {
            cert: tls.cert,
            key: tls.key,
            ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
          },
          notFound,
        )
      : createServer(notFound);
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head));
    this.http = server;
    await new Promise<void>((resolve) => server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', resolve));
    this.boundPort = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.dropAll();
    const wss = this.wss;
    this.wss = undefined;
    await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
    const server = this.http;
    this.http = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /**
   * Cloud down. `drop`: every connection is dropped and new ones refused.
   * `silent`: connections stay up but no call is processed or answered (a
   * hung backend behind a live load balancer).
   */
  async setOutage(on: boolean, mode: 'drop' | 'silent' = 'drop'): Promise<void> {
    this.silent = on && mode === 'silent';
    this.outage = on && mode === 'drop';
    if (this.outage) this.dropAll();
  }

  /** Answer the next `times` calls of `action` with a CALLERROR `code` (poison-message tests). */
  failNext(action: string, code: string, times = 1): void {
    this.failures.set(action, { code, times });
  }

  /**
   * Lose the answers to the next `times` calls (of `action`, or of any):
   * the CMS books the call but the answer never reaches the sender, which
   * must resend it under the same message id.
   */
  dropAnswers(times = 1, action?: string): void {
    this.drops.push({ times, ...(action !== undefined ? { action } : {}) });
  }

  /** CMS → charger call (RemoteStart, SetChargingProfile, ...); a CALLERROR answer rejects with OcppCallError. */
  async call(identity: string, action: string, params: Json, messageId?: string): Promise<Json> {
    const c = this.conns.get(identity);
    if (!c) throw new Error(`${identity} not connected to the CMS`);
    return c.peer.call(action, params, messageId, this.opts.callTimeoutMs ?? 10_000);
  }

  received(action?: string, identity?: string): CmsRecord[] {
    return this.records.filter((r) => (!action || r.action === action) && (!identity || r.identity === identity));
  }

  /** Resolves once `pred` holds (checked after every received call); a real-time test helper. */
  async until(pred: () => boolean, timeoutMs = 10_000): Promise<void> {
    if (pred()) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error('CMS sim: condition not met in time'));
      }, timeoutMs);
      const check = () => {
        if (!pred()) return;
        clearTimeout(t);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const identity = decodeURIComponent(path.split('/').filter(Boolean).at(-1) ?? '');
    const wss = this.wss;
    const refused = this.refusal(req, identity);
    if (!wss || refused) {
      socket.end(`HTTP/1.1 ${refused ?? '503 Service Unavailable'}\r\nConnection: close\r\n\r\n`);
      return;
    }
    const sock = req.socket as TLSSocket;
    if (typeof sock.getPeerCertificate === 'function') {
      const cn = sock.getPeerCertificate()?.subject?.CN;
      if (cn) this.clientCertificates.set(identity, String(cn));
    }
    wss.handleUpgrade(req, socket, head, (ws) => this.attach(identity, ws));
  }

  /** The HTTP status line a connection attempt is refused with, if it is. */
  private refusal(req: IncomingMessage, identity: string): string | undefined {
    if (this.outage) return '503 Service Unavailable';
    if (!identity) return '404 Not Found';
    const want = this.opts.passwords?.[identity];
    if (want !== undefined) {
      const cred = parseBasicAuth(req.headers.authorization);
      if (cred?.id !== identity || cred.password !== want) return '401 Unauthorized';
    }
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',');
    if (!offered.some((p) => OCPP_VERSIONS.includes(p.trim() as OcppVersion))) return '400 Bad Request';
    return undefined;
  }

  private attach(identity: string, ws: WebSocket): void {
    const protocol = ws.protocol as OcppVersion;
    this.conns.get(identity)?.ws.terminate();
    let onClosed = () => {};
    const closed = new Promise<void>((resolve) => {
      onClosed = resolve;
    });
    const peer = new OcppPeer(ws, {
      clock: this.opts.clock,
      protocol,
      onCall: (action, payload, messageId) => this.onCall(conn, identity, action, payload, messageId),
    });
    const conn: Conn = { peer, ws, closed };
    this.conns.set(identity, conn);
    ws.on('close', () => {
      onClosed();
      if (this.conns.get(identity) === conn) this.conns.delete(identity);
    });
  }

  private async onCall(conn: Conn, identity: string, action: string, payload: Json, messageId: string) {
    if (this.silent) {
      // A hung backend: the call is never processed; the sender times out or drops the link.
      await conn.closed;
      return NO_ANSWER;
    }
    const key = `${identity}\u0000${messageId}`;
    const duplicate = this.answers.has(key);
    const protocol = conn.peer.protocol;
    this.records.push({
      seq: ++this.seq,
      identity,
      protocol,
      messageId,
      action,
      payload,
      ts: this.opts.clock.now(),
      duplicate,
    });
    try {
      if (duplicate) return this.answers.get(key) as Json;
      const fail = this.failures.get(action);
      if (fail && fail.times > 0) {
        fail.times--;
        throw new OcppCallError(fail.code, `CMS sim refuses ${action}`);
      }
      const res = this.book.answer(identity, protocol, action, payload);
      this.answers.set(key, res);
      return this.takeDrop(action) ? NO_ANSWER : res;
    } finally {
      for (const w of [...this.waiters]) w();
    }
  }

  private takeDrop(action: string): boolean {
    const d = this.drops.find((x) => x.times > 0 && (x.action === undefined || x.action === action));
    if (!d) return false;
    d.times--;
    return true;
  }

  private dropAll(): void {
    for (const c of this.conns.values()) c.ws.terminate();
    this.conns.clear();
  }
}
