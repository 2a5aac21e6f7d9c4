/**
 * An OCPP 1.6J CMS for the kill soak, on plain `ws` with the peers' own
 * codec. It records every call it receives (charger, OCPP message id,
 * action, payload) and every transaction id it issues, so the verdict is
 * taken from the CMS's own record. It can go away (outage) and come back on
 * the same port with its record and id counter intact, like a real CMS
 * behind a flaky link.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { answerCall16 } from './cms-answers.js';
import { decode, encodeError, encodeResult, type Json } from './ocpp-wire.js';

export interface CmsReceipt {
  readonly chargerId: string;
  readonly msgId: string;
  readonly action: string;
  readonly payload: Json;
}

export interface IssuedTx {
  readonly chargerId: string;
  /** The StartTransaction's timestamp: the charger's mark of that start. */
  readonly startStamp: string;
}

export class SoakCms {
  readonly receipts: CmsReceipt[] = [];
  /** Every transaction id this CMS issued, and for which start. */
  readonly issued = new Map<number, IssuedTx>();
  /** A StartTransaction repeated under the same message id gets the same id again (a CMS can recognise it). */
  private readonly startByMsg = new Map<string, number>();
  private nextTx: number;
  private wss: WebSocketServer | undefined;
  private port = 0;

  constructor(firstTxId = 7001) {
    this.nextTx = firstTxId;
  }

  get up(): boolean {
    return this.wss !== undefined;
  }

  /** Listens on `port` (0: a free one, then the same one on every later start); resolves with the base URL. */
  async start(port = this.port): Promise<string> {
    if (this.wss) throw new Error('CMS already up');
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port,
      perMessageDeflate: false,
      handleProtocols: (protocols) => (protocols.has('ocpp1.6') ? 'ocpp1.6' : false),
    });
    this.wss = wss;
    wss.on('connection', (ws, req) => {
      const chargerId = decodeURIComponent((req.url ?? '').split('/').filter(Boolean).pop() ?? '');
      ws.on('error', () => {});
      ws.on('message', (data) => {
        const f = decode(data);
        if (f?.kind !== 'call') return;
        this.receipts.push({ chargerId, msgId: f.id, action: f.action, payload: f.payload });
        const res = this.answer(chargerId, f.id, f.action, f.payload);
        ws.send(res ? encodeResult(f.id, res) : encodeError(f.id, 'NotImplemented', f.action));
      });
    });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', () => resolve());
      wss.once('error', reject);
    });
    this.port = (wss.address() as AddressInfo).port;
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Gone at once: every socket cut, the port closed. */
  async stop(): Promise<void> {
    const wss = this.wss;
    if (!wss) return;
    this.wss = undefined;
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }

  private answer(chargerId: string, msgId: string, action: string, payload: Json): Json | undefined {
    return answerCall16(action, payload, () => {
      // A repeat of the same StartTransaction message gets the id it was given the first time.
      const key = `${chargerId}\u0000${msgId}`;
      let tx = this.startByMsg.get(key);
      if (tx === undefined) {
        tx = this.nextTx++;
        this.startByMsg.set(key, tx);
        this.issued.set(tx, { chargerId, startStamp: String(payload.timestamp) });
      }
      return tx;
    });
  }
}
