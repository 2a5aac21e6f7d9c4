/**
 * An OCPP 1.6J charge point for the kill soak, on plain `ws` with the peers'
 * own codec. It cycles sessions (Authorize, StartTransaction, MeterValues,
 * StopTransaction, status changes, heartbeats) and behaves like a real
 * charger when its link breaks: one call outstanding at a time, and a call
 * that got no answer (socket gone, or no answer in time) is sent again with
 * the SAME message id after the reconnect, until it is answered. Every
 * call it makes is logged with its message id, its timestamp (unique per
 * charger, the mark by which the CMS's copy is found) and its session.
 */
import { WebSocket } from 'ws';
import { decode, encodeCall, encodeResult, type Frame, type Json } from './ocpp-wire.js';
import { type Rng, between, mulberry32 } from './rng.js';

export interface SoakChargerOptions {
  /** ws://host:port/path; the charger appends `/<id>`. */
  readonly url: string;
  readonly id: string;
  readonly seed: number;
  readonly meterEveryMs: number;
  readonly metersPerSession: readonly [number, number];
  readonly gapMs: readonly [number, number];
  readonly heartbeatEveryMs: number;
  /** No answer within this: the charger drops the link, reconnects and repeats the call. */
  readonly callTimeoutMs: number;
  readonly reconnectMs: number;
  /**
   * Repeat an unanswered call under a new message id (firmware that builds a new frame per attempt) instead of
   * the same one. Off by default: the same id is what the gateway can recognise.
   */
  readonly retryWithNewId?: boolean;
}

export interface SentCall {
  readonly seq: number;
  /** The message id of the last attempt (the first one's unless `retryWithNewId`). */
  msgId: string;
  readonly action: string;
  /** The message's own timestamp (StartTransaction, StopTransaction, MeterValues, StatusNotification). */
  readonly stamp: string | undefined;
  /** 1-based session index, 0 outside a session. */
  readonly session: number;
  /** The transaction id the charger put in the message (MeterValues, StopTransaction). */
  readonly txId: number | undefined;
  acked: boolean;
  tries: number;
  errors: number;
}

export interface ChargerSession {
  readonly index: number;
  readonly startStamp: string;
  /** The id the charger was given (by the CMS, or by the gateway while the CMS was away). */
  readonly txId: number;
}

class Closed extends Error {}

export class SoakCharger {
  readonly id: string;
  readonly calls: SentCall[] = [];
  readonly sessions: ChargerSession[] = [];
  callErrors = 0;
  lastError: string | undefined;
  /** Links opened (the first one included). */
  connects = 0;
  failure: Error | undefined;
  private readonly rng: Rng;
  private readonly jitter: Rng;
  private ws: WebSocket | undefined;
  private openWaiters: Array<() => void> = [];
  private pending: { msgId: string; resolve: (f: Frame | undefined) => void } | undefined;
  private closed = false;
  private winding = false;
  private finished = false;
  private seq = 0;
  private lastStamp = 0;
  private lastHeartbeat = Date.now();
  private energyWh = 10_000;
  private loopDone: Promise<void> = Promise.resolve();

  constructor(private readonly o: SoakChargerOptions) {
    this.id = o.id;
    this.rng = mulberry32(o.seed);
    this.jitter = mulberry32(o.seed ^ 0x5bd1e995);
  }

  start(): void {
    this.connect();
    this.loopDone = this.loop().catch((err: unknown) => {
      if (!(err instanceof Closed)) this.failure = err as Error;
    });
  }

  /** Finish the current session (every call answered), then start no new one. */
  windDown(): void {
    this.winding = true;
  }

  /** Wound down and nothing outstanding. */
  get idle(): boolean {
    return this.finished;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.ws?.terminate();
    this.pending?.resolve(undefined);
    for (const w of this.openWaiters.splice(0)) w();
    await this.loopDone;
  }

  private async loop(): Promise<void> {
    await this.call('BootNotification', { chargePointVendor: 'SoakPeer', chargePointModel: 'K1' });
    await this.status('Available');
    let index = 0;
    while (!this.winding) {
      await this.sleep(between(this.rng, this.o.gapMs));
      if (this.winding) break;
      await this.heartbeatIfDue();
      index++;
      const idTag = `TAG-${this.id}-${index % 4}`;
      await this.call('Authorize', { idTag });
      await this.status('Preparing');
      const startStamp = this.stamp();
      const started = await this.call(
        'StartTransaction',
        { connectorId: 1, idTag, meterStart: this.energyWh, timestamp: startStamp },
        index,
      );
      const txId = Number(started.transactionId);
      this.sessions.push({ index, startStamp, txId });
      await this.status('Charging', index);
      const meters = Math.round(between(this.rng, this.o.metersPerSession));
      for (let i = 0; i < meters; i++) {
        await this.sleep(this.o.meterEveryMs);
        await this.heartbeatIfDue();
        this.energyWh += Math.round(between(this.rng, [50, 500]));
        const timestamp = this.stamp();
        const sampledValue = [
          { value: String(this.energyWh), context: 'Sample.Periodic', measurand: 'Energy.Active.Import.Register' },
        ];
        await this.call(
          'MeterValues',
          { connectorId: 1, transactionId: txId, meterValue: [{ timestamp, sampledValue }] },
          index,
        );
      }
      const payload = { transactionId: txId, idTag, meterStop: this.energyWh, timestamp: this.stamp() };
      await this.call('StopTransaction', { ...payload, reason: 'EVDisconnected' }, index);
      await this.status('Available');
    }
    this.finished = true;
  }

  private status(status: string, session = 0): Promise<Json> {
    const payload = { connectorId: 1, errorCode: 'NoError', status, timestamp: this.stamp() };
    return this.call('StatusNotification', payload, session);
  }

  private async heartbeatIfDue(): Promise<void> {
    if (Date.now() - this.lastHeartbeat < this.o.heartbeatEveryMs) return;
    this.lastHeartbeat = Date.now();
    await this.call('Heartbeat', {});
  }

  /** A timestamp later than any before it: each message of this charger is told apart by its own. */
  private stamp(): string {
    this.lastStamp = Math.max(Date.now(), this.lastStamp + 1);
    return new Date(this.lastStamp).toISOString();
  }

  /** One call, repeated under the same message id until it is answered. */
  private async call(action: string, payload: Json, session = 0): Promise<Json> {
    const seq = this.seq++;
    const rec: SentCall = {
      seq,
      msgId: `${this.id}-${seq}`,
      action,
      stamp: stampOf(action, payload),
      session,
      txId: typeof payload.transactionId === 'number' ? payload.transactionId : undefined,
      acked: false,
      tries: 0,
      errors: 0,
    };
    this.calls.push(rec);
    for (;;) {
      const ws = await this.open();
      if (rec.tries > 0 && this.o.retryWithNewId) rec.msgId = `${this.id}-${seq}.${rec.tries}`;
      rec.tries++;
      const answer = await this.exchange(ws, rec.msgId, encodeCall(rec.msgId, action, payload));
      if (answer?.kind === 'result') {
        rec.acked = true;
        return answer.payload;
      }
      if (answer?.kind === 'error') {
        // Not taken: counted (the verdict reports it), then tried again like a charger whose message must get through.
        rec.errors++;
        this.callErrors++;
        this.lastError = `${action} ${rec.msgId}: ${answer.code} ${answer.description}`;
        await this.sleep(500);
      }
    }
  }

  private exchange(ws: WebSocket, msgId: string, frame: string): Promise<Frame | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        // No answer: drop the link like a charger would; the call goes again after the reconnect.
        ws.terminate();
        done(undefined);
      }, this.o.callTimeoutMs);
      const done = (f: Frame | undefined) => {
        clearTimeout(timer);
        if (this.pending?.msgId === msgId) this.pending = undefined;
        resolve(f);
      };
      this.pending = { msgId, resolve: done };
      ws.send(frame, (err) => {
        if (err) done(undefined);
      });
    });
  }

  private open(): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.closed) reject(new Closed());
        else if (this.ws?.readyState === WebSocket.OPEN) resolve(this.ws);
        else this.openWaiters.push(check);
      };
      check();
    });
  }

  private connect(): void {
    if (this.closed) return;
    const ws = new WebSocket(`${this.o.url}/${this.id}`, ['ocpp1.6'], { perMessageDeflate: false });
    this.ws = ws;
    ws.on('open', () => {
      this.connects++;
      for (const w of this.openWaiters.splice(0)) w();
    });
    ws.on('message', (data) => this.receive(ws, data));
    ws.on('error', () => {});
    ws.on('close', () => {
      if (this.ws === ws) this.ws = undefined;
      this.pending?.resolve(undefined);
      if (!this.closed) setTimeout(() => this.connect(), this.o.reconnectMs * (0.5 + this.jitter()));
    });
  }

  private receive(ws: WebSocket, data: unknown): void {
    const f = decode(data);
    if (!f) return;
    if (f.kind === 'call') {
      ws.send(encodeResult(f.id, answerGatewayCall(f.action)));
      return;
    }
    if (this.pending?.msgId === f.id) this.pending.resolve(f);
  }

  /** Interrupted by close(). */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new Closed());
        return;
      }
      setTimeout(() => (this.closed ? reject(new Closed()) : resolve()), ms);
    });
  }
}

/** The mark of a message: its own timestamp. */
export function stampOf(action: string, payload: Json): string | undefined {
  if (action === 'MeterValues') {
    const mv = payload.meterValue as Array<{ timestamp?: unknown }> | undefined;
    return typeof mv?.[0]?.timestamp === 'string' ? mv[0].timestamp : undefined;
  }
  return typeof payload.timestamp === 'string' ? payload.timestamp : undefined;
}

/** What this simple charger says to the gateway's own calls (its charging profiles, configuration reads). */
function answerGatewayCall(action: string): Json {
  switch (action) {
    case 'GetConfiguration':
      return { configurationKey: [], unknownKey: [] };
    case 'TriggerMessage':
    case 'GetCompositeSchedule':
      return { status: 'Rejected' };
    case 'DataTransfer':
      return { status: 'UnknownVendorId' };
    default:
      return { status: 'Accepted' };
  }
}
