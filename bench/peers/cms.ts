/**
 * A minimal OCPP 1.6J CMS on plain `ws` for the proxy bench: it answers every
 * charger call at once (so the figure is the path's, not the CMS's), issues
 * its own transaction ids and can send remote calls to any connected charger.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { answerCall16 } from './cms-answers.js';
import { Endpoint, type Json } from './ocpp-wire.js';

export class CmsPeer {
  private readonly wss: WebSocketServer;
  private readonly links = new Map<string, Endpoint>();
  private txSeq = 1;
  /** CMS-side receipt count (sanity check that traffic really reached the CMS). */
  received = 0;

  /** `autoPong: false` plays a CMS whose host died behind a live TCP path: pings go unanswered. */
  constructor(opts: { readonly autoPong?: boolean } = {}) {
    this.wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      perMessageDeflate: false,
      autoPong: opts.autoPong ?? true,
      handleProtocols: (protocols) => (protocols.has('ocpp1.6') ? 'ocpp1.6' : false),
    });
    this.wss.on('connection', (ws, req) => {
      const id = decodeURIComponent((req.url ?? '').split('/').filter(Boolean).pop() ?? '');
      ws.on('error', () => {});
      const ep = new Endpoint(ws, (action, payload) => this.answer(action, payload));
      this.links.set(id, ep);
      ws.on('close', () => {
        if (this.links.get(id) === ep) this.links.delete(id);
      });
    });
  }

  ready(): Promise<string> {
    return new Promise((resolve) => {
      const done = () => resolve(`ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}`);
      if (this.wss.address()) done();
      else this.wss.once('listening', done);
    });
  }

  /** Charger ids with a socket open to this CMS right now. */
  ids(): string[] {
    return [...this.links.keys()];
  }

  connected(id: string): boolean {
    return this.links.has(id);
  }

  /** A CMS → charger call; resolves with the round trip seen by the CMS. */
  call(id: string, action: string, payload: Json): Promise<{ payload: Json; ms: number }> {
    const ep = this.links.get(id);
    if (!ep) return Promise.reject(new Error(`${id} not connected to the CMS`));
    return ep.call(action, payload);
  }

  close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }

  private answer(action: string, payload: Json): Json | undefined {
    this.received++;
    return answerCall16(action, payload, () => this.txSeq++);
  }
}
