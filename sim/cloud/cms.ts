import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { type RPCClient, RPCServer } from 'ocpp-rpc';
import { callWithId } from '../../adapters/ocpp/rpc/call.js';
import { OCPP_PROTOCOLS, actionsOf, type OcppProtocol } from '../../adapters/ocpp/rpc/protocol.js';
import { strictValidators } from '../../adapters/ocpp/rpc/validators.js';
import type { Clock } from '../../src/model/clock.js';

type Json = Record<string, unknown>;

/** One call the CMS received, in arrival order. */
export interface CmsRecord {
  readonly seq: number;
  readonly identity: string;
  readonly protocol: OcppProtocol;
  readonly messageId: string;
  readonly action: string;
  readonly payload: Json;
  readonly ts: number;
  /** Same charger and message id seen before (a replay the CMS already had). */
  readonly duplicate: boolean;
}

export interface CmsTransaction {
  readonly id: number;
  readonly identity: string;
  readonly idTag: string;
  readonly connectorId: number;
  readonly meterStart: number;
  meterStop?: number;
  stopped: boolean;
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
}

/**
 * A cloud CMS for OCPP 1.6J, 2.0.1 and 2.1 speaking the real protocol with
 * strict validation: accepts boots, authorises, issues transaction ids,
 * records every call it receives, can be switched into an outage and can
 * send CMS→charger calls. Used by the demo and the proxy's tests.
 */
export class CmsSim {
  readonly records: CmsRecord[] = [];
  readonly transactions = new Map<number, CmsTransaction>();
  /** Client certificate CN each charger connection presented (security profile 3). */
  readonly clientCertificates = new Map<string, string>();
  private readonly clients = new Map<string, RPCClient>();
  private readonly answers = new Map<string, unknown>();
  private readonly failures = new Map<string, { code: string; times: number }>();
  private rpc?: RPCServer;
  private http?: Server;
  private boundPort = 0;
  private nextTx: number;
  private outage = false;
  private silent = false;
  private seq = 0;
  private waiters: Array<() => void> = [];

  constructor(private readonly opts: CmsSimOptions) {
    this.nextTx = opts.firstTransactionId ?? 1;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Base URL; the proxy appends `/<chargerId>`. */
  get url(): string {
    return `${this.opts.tls ? 'wss' : 'ws'}://${this.opts.host ?? '127.0.0.1'}:${this.boundPort}/ocpp`;
  }

  connectedIds(): string[] {
    return [...this.clients.keys()];
  }

  async start(): Promise<void> {
    const rpc = new RPCServer({
      protocols: [...OCPP_PROTOCOLS],
      strictMode: true,
      strictModeValidators: strictValidators(),
      pingIntervalMs: 0,
    });
    rpc.auth((accept, reject, handshake) => {
      if (this.outage) return reject(503, 'Service unavailable');
      const sock = handshake.request.socket as import('node:tls').TLSSocket;
      if (typeof sock.getPeerCertificate === 'function') {
        const subject = sock.getPeerCertificate()?.subject;
        if (subject?.CN) this.clientCertificates.set(handshake.identity, String(subject.CN));
      }
      const want = this.opts.passwords?.[handshake.identity];
      if (want !== undefined && handshake.password?.toString('utf8') !== want) return reject(401, 'Unauthorized');
      accept();
    });
    rpc.on('client', (client) => this.attach(client));
    this.rpc = rpc;
    const notFound = (_req: IncomingMessage, res: import('node:http').ServerResponse) => {
      res.statusCode = 404;
      res.end();
    };
    const tls = this.opts.tls;
    this.http = tls
      ? createTlsServer(
          {
            cert: tls.cert,
            key: tls.key,
            ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
          },
          notFound,
        )
      : createServer(notFound);
    this.http.on(
      'upgrade',
      (req: IncomingMessage, socket: Socket, head: Buffer) => void rpc.handleUpgrade(req, socket, head),
    );
    const server = this.http;
    await new Promise<void>((resolve) => server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', resolve));
    this.boundPort = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.clients.values()].map((c) => c.close({ force: true })));
    this.clients.clear();
    await this.rpc?.close({ force: true }).catch(() => {});
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
    if (this.outage) {
      await Promise.allSettled([...this.clients.values()].map((c) => c.close({ force: true })));
      this.clients.clear();
    }
  }

  /** Answer the next `times` calls of `action` with a CALLERROR `code` (poison-message tests). */
  failNext(action: string, code: string, times = 1): void {
    this.failures.set(action, { code, times });
  }

  /** CMS → charger call (RemoteStart, SetChargingProfile, ...). */
  async call(identity: string, action: string, params: Json, messageId?: string): Promise<Json> {
    const c = this.clients.get(identity);
    if (!c) throw new Error(`${identity} not connected to the CMS`);
    if (messageId)
      return (await callWithId(c, messageId, action, params, { clock: this.opts.clock, timeoutMs: 10_000 })) as Json;
    return (await c.call(action, params)) as Json;
  }

  received(action?: string, identity?: string): CmsRecord[] {
    return this.records.filter((r) => (!action || r.action === action) && (!identity || r.identity === identity));
  }

  /** Resolves once `pred` holds (checked after every received call). */
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

  private attach(client: RPCClient): void {
    const identity = client.identity as string;
    const protocol = client.protocol as OcppProtocol;
    this.clients.get(identity)?.close({ force: true });
    this.clients.set(identity, client);
    client.on('close', () => {
      if (this.clients.get(identity) === client) this.clients.delete(identity);
    });
    for (const action of actionsOf(protocol)) {
      client.handle(action, async ({ messageId, params, signal }) => {
        if (this.silent) {
          await new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve()));
          throw new Error('connection closed');
        }
        const key = `${identity}\u0000${messageId}`;
        const duplicate = this.answers.has(key);
        this.records.push({
          seq: ++this.seq,
          identity,
          protocol,
          messageId: messageId ?? '',
          action,
          payload: (params ?? {}) as Json,
          ts: this.opts.clock.now(),
          duplicate,
        });
        try {
          if (duplicate) return this.answers.get(key) as Json;
          const fail = this.failures.get(action);
          if (fail && fail.times > 0) {
            fail.times--;
            const err = new Error(`CMS sim refuses ${action}`) as Error & { rpcErrorCode: string };
            err.rpcErrorCode = fail.code;
            throw err;
          }
          const res = this.answer(identity, protocol, action, (params ?? {}) as Json);
          this.answers.set(key, res);
          return res;
        } finally {
          for (const w of [...this.waiters]) w();
        }
      });
    }
  }

  private answer(identity: string, protocol: OcppProtocol, action: string, p: Json): Json {
    const now = new Date(this.opts.clock.now()).toISOString();
    const v16 = protocol === 'ocpp1.6';
    const auth = (tag: unknown) => ((this.opts.invalidIdTags ?? []).includes(String(tag)) ? 'Invalid' : 'Accepted');
    switch (action) {
      case 'BootNotification':
        return { status: 'Accepted', currentTime: now, interval: 300 };
      case 'Heartbeat':
        return { currentTime: now };
      case 'Authorize':
        return v16
          ? { idTagInfo: { status: auth(p.idTag) } }
          : { idTokenInfo: { status: auth((p.idToken as Json | undefined)?.idToken) } };
      case 'StartTransaction': {
        const id = this.nextTx++;
        this.transactions.set(id, {
          id,
          identity,
          idTag: String(p.idTag),
          connectorId: p.connectorId as number,
          meterStart: p.meterStart as number,
          stopped: false,
        });
        return { transactionId: id, idTagInfo: { status: auth(p.idTag) } };
      }
      case 'StopTransaction': {
        const tx = this.transactions.get(p.transactionId as number);
        if (tx) {
          tx.stopped = true;
          tx.meterStop = p.meterStop as number;
        }
        return {};
      }
      case 'TransactionEvent': {
        const tag = (p.idToken as Json | undefined)?.idToken;
        return tag !== undefined ? { idTokenInfo: { status: auth(tag) } } : {};
      }
      case 'NotifyEVChargingNeeds':
        return { status: 'Accepted' };
      case 'DataTransfer':
        return { status: 'Accepted' };
      default:
        return {};
    }
  }
}
