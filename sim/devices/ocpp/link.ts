import WebSocket from 'ws';
import type { Clock } from '../../../src/model/clock.js';
import { type CallHandler, OcppPeer } from './peer.js';
import { basicAuth, type OcppVersion } from './wire.js';

export interface LinkOptions {
  /** Base URL; the charge point id is appended as the last path segment. */
  readonly url: string;
  readonly id: string;
  readonly protocol: OcppVersion;
  readonly clock: Clock;
  readonly onCall: CallHandler;
  readonly onOpen: (peer: OcppPeer) => void;
  readonly password?: string;
  /** Trusted CA (PEM) for wss:// (security profile 2). */
  readonly ca?: string;
  readonly callTimeoutMs?: number;
  /** Reconnect back-off bounds, ms. */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
}

/**
 * A charger's WebSocket to its central system: offers exactly one OCPP
 * subprotocol, sends Basic auth when it has a password, trusts `ca` for
 * TLS and reconnects with jittered back-off until stopped.
 *
 * The reconnect pause runs on real timers on purpose: it paces socket
 * attempts, which happen in real time, while everything a charger does
 * (meter values, call timeouts, sessions) runs on the injected clock. A
 * virtual clock that nobody advances must not keep a charger offline.
 */
export class ChargerLink {
  private peer?: OcppPeer;
  private socket?: WebSocket;
  private retry?: NodeJS.Timeout;
  private attempt = 0;
  private stopped = true;

  constructor(private readonly opts: LinkOptions) {}

  get connected(): boolean {
    return this.peer?.open ?? false;
  }

  /** The open connection, if any. */
  get current(): OcppPeer | undefined {
    return this.connected ? this.peer : undefined;
  }

  /** Resolves after the first attempt, connected or not; later attempts go on in the background. */
  start(): Promise<void> {
    this.stopped = false;
    return new Promise((resolve) => this.connect(resolve));
  }

  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const ws = this.socket;
    this.socket = undefined;
    this.peer = undefined;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      ws.once('close', () => resolve());
      ws.terminate();
    });
  }

  private connect(settled: () => void = () => {}): void {
    if (this.stopped) {
      settled();
      return;
    }
    const o = this.opts;
    const url = `${o.url.replace(/\/+$/, '')}/${encodeURIComponent(o.id)}`;
    const ws = new WebSocket(url, [o.protocol], {
      ...(o.password !== undefined ? { headers: { authorization: basicAuth(o.id, o.password) } } : {}),
      ...(o.ca ? { ca: o.ca } : {}),
      handshakeTimeout: 10_000,
    });
    this.socket = ws;
    let opened = false;
    ws.on('error', () => {});
    ws.once('open', () => {
      opened = true;
      this.attempt = 0;
      const peer = new OcppPeer(ws, {
        clock: o.clock,
        protocol: o.protocol,
        onCall: o.onCall,
        ...(o.callTimeoutMs !== undefined ? { callTimeoutMs: o.callTimeoutMs } : {}),
      });
      this.peer = peer;
      settled();
      o.onOpen(peer);
    });
    ws.once('close', () => {
      if (!opened) settled();
      if (this.socket !== ws || this.stopped) return;
      this.peer = undefined;
      this.schedule();
    });
  }

  private schedule(): void {
    const min = this.opts.reconnectMinMs ?? 50;
    const max = this.opts.reconnectMaxMs ?? 500;
    const base = Math.min(max, min * 2 ** this.attempt++);
    // Jitter keeps a depot of chargers from reconnecting in lock-step after an outage.
    const delay = base * (0.75 + Math.random() * 0.5);
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.connect(), delay);
  }
}
