import type { ServerResponse } from 'node:http';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { WebSocket } from 'ws';
import { type EventHub, type HubEvent, eventBody, matchesAny } from '../integration/events.js';
import type { Clock, TimerHandle } from '../model/clock.js';

export interface LiveStreamsOptions {
  readonly hub: EventHub;
  readonly clock: Clock;
  /** Unsent live bytes a client may lag behind before it is cut off. */
  readonly clientBufferBytes: number;
  readonly heartbeatMs: number;
  readonly metrics: Registry;
}

interface Queued {
  readonly frame: string;
  readonly id: number;
  readonly live: boolean;
}

interface ClientOptions {
  readonly patterns: readonly string[] | undefined;
  /** Unsent bytes the client may lag behind. */
  readonly limit: number;
  /** Id of the last event the client has. */
  readonly startAfter: number;
  readonly onCutoff: () => void;
  readonly onClosed: (c: LiveClient) => void;
}

/**
 * One live client (SSE response or WebSocket). Frames go straight to the
 * socket while it keeps up; otherwise they queue, and once the queued live
 * bytes exceed the budget the client is cut off with the id to resume after.
 * Nothing here ever waits on a client, so one slow reader cannot delay the
 * hub, the control loop or the other clients.
 */
abstract class LiveClient {
  protected queue: Queued[] = [];
  protected qHead = 0;
  protected liveBytes = 0;
  protected waiting = false;
  lastWritten: number;
  closed = false;

  readonly patterns: readonly string[] | undefined;
  protected readonly limit: number;
  private readonly onCutoff: () => void;
  private readonly onClosed: (c: LiveClient) => void;

  constructor(o: ClientOptions) {
    this.patterns = o.patterns;
    this.limit = o.limit;
    this.onCutoff = o.onCutoff;
    this.onClosed = o.onClosed;
    this.lastWritten = o.startAfter;
  }

  protected abstract buffered(): number;
  protected abstract write(frame: string): void;
  protected abstract waitDrain(resume: () => void): void;
  protected abstract sendOverflow(resumeAfter: number): void;
  abstract frameOf(e: HubEvent): string;
  abstract heartbeat(): void;

  enqueue(e: HubEvent, live: boolean): void {
    if (this.closed || !matchesAny(e.type, this.patterns)) return;
    const frame = this.frameOf(e);
    if (this.qHead === this.queue.length && !this.waiting && this.buffered() < this.limit) {
      this.write(frame);
      this.lastWritten = e.id;
      return;
    }
    this.queue.push({ frame, id: e.id, live });
    if (live) {
      this.liveBytes += frame.length;
      if (this.liveBytes > this.limit) {
        this.cutOff();
        return;
      }
    }
    this.pump();
  }

  pump(): void {
    while (!this.closed && this.qHead < this.queue.length) {
      if (this.buffered() >= this.limit) {
        if (!this.waiting) {
          this.waiting = true;
          this.waitDrain(() => {
            this.waiting = false;
            this.pump();
          });
        }
        return;
      }
      const q = this.queue[this.qHead++]!;
      this.write(q.frame);
      this.lastWritten = q.id;
      if (q.live) this.liveBytes -= q.frame.length;
    }
    if (this.qHead === this.queue.length) {
      this.queue = [];
      this.qHead = 0;
    }
  }

  cutOff(): void {
    if (this.closed) return;
    this.onCutoff();
    this.sendOverflow(this.lastWritten);
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.onClosed(this);
  }
}

class SseClient extends LiveClient {
  constructor(
    private readonly res: ServerResponse,
    o: ClientOptions,
  ) {
    super(o);
  }
  protected buffered(): number {
    return this.res.writableLength;
  }
  protected write(frame: string): void {
    this.res.write(frame);
  }
  protected waitDrain(resume: () => void): void {
    this.res.once('drain', resume);
  }
  protected sendOverflow(resumeAfter: number): void {
    // No `id:` line: the client's Last-Event-ID stays at the last real event.
    this.res.write(
      `event: overflow\ndata: ${JSON.stringify({ resumeAfter, reason: 'client too slow; reconnect with Last-Event-ID' })}\n\n`,
    );
    // Close the connection itself, not only the response (keep-alive would hold it open);
    // the socket is detached from the response once it finishes, so keep it.
    const socket = this.res.socket;
    this.res.end(() => socket?.end());
    // A client that reads nothing never lets end() finish: drop it after a grace period.
    const t = setTimeout(() => socket?.destroy(), 5000);
    t.unref();
  }
  frameOf(e: HubEvent): string {
    return sseFrame(e);
  }
  heartbeat(): void {
    if (!this.closed && this.buffered() < this.limit) this.res.write(': keep-alive\n\n');
  }
  override close(): void {
    super.close();
    if (!this.res.writableEnded) this.res.end();
  }
}

class WsClient extends LiveClient {
  constructor(
    private readonly ws: WebSocket,
    o: ClientOptions,
  ) {
    super(o);
  }
  protected buffered(): number {
    return this.ws.bufferedAmount;
  }
  protected write(frame: string): void {
    this.ws.send(frame);
  }
  protected waitDrain(resume: () => void): void {
    // The callback of a send runs once that frame left the user-space buffer.
    this.ws.send(JSON.stringify({ type: 'ping' }), () => resume());
  }
  protected sendOverflow(resumeAfter: number): void {
    this.ws.send(
      JSON.stringify({ type: 'overflow', resumeAfter, reason: 'client too slow; reconnect with lastEventId' }),
    );
    this.ws.close(1013, 'client too slow');
    const t = setTimeout(() => this.ws.terminate(), 5000);
    t.unref();
  }
  frameOf(e: HubEvent): string {
    return wsFrame(e);
  }
  heartbeat(): void {
    if (!this.closed) this.ws.ping();
  }
  override close(): void {
    super.close();
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(1001, 'gateway stopping');
  }
}

// One serialisation per event, shared by every client.
const sseCache = new WeakMap<HubEvent, string>();
const wsCache = new WeakMap<HubEvent, string>();

export function sseFrame(e: HubEvent): string {
  let f = sseCache.get(e);
  if (f === undefined) {
    f = `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(eventBody(e))}\n\n`;
    sseCache.set(e, f);
  }
  return f;
}

export function wsFrame(e: HubEvent): string {
  let f = wsCache.get(e);
  if (f === undefined) {
    f = JSON.stringify({ id: e.id, ...eventBody(e) });
    wsCache.set(e, f);
  }
  return f;
}

/** Fan-out of the event hub to SSE and WebSocket clients. */
export class LiveStreams {
  private readonly clients = new Set<LiveClient>();
  private readonly unsubscribe: () => void;
  private heartbeatTimer?: TimerHandle;
  private readonly gauge: Gauge<'transport'>;
  private readonly cutoffs: Counter<'transport'>;

  constructor(private readonly opts: LiveStreamsOptions) {
    this.unsubscribe = opts.hub.subscribe((e) => {
      for (const c of this.clients) c.enqueue(e, true);
    });
    this.gauge =
      (opts.metrics.getSingleMetric('gridkeeper_api_live_clients') as Gauge<'transport'> | undefined) ??
      new Gauge({
        name: 'gridkeeper_api_live_clients',
        help: 'Connected live-event clients',
        labelNames: ['transport'],
        registers: [opts.metrics],
      });
    this.cutoffs =
      (opts.metrics.getSingleMetric('gridkeeper_api_live_cutoffs_total') as Counter<'transport'> | undefined) ??
      new Counter({
        name: 'gridkeeper_api_live_cutoffs_total',
        help: 'Live-event clients cut off for reading too slowly',
        labelNames: ['transport'],
        registers: [opts.metrics],
      });
    this.heartbeatTimer = opts.clock.setInterval(() => {
      for (const c of this.clients) c.heartbeat();
    }, opts.heartbeatMs);
  }

  count(): number {
    return this.clients.size;
  }

  /** Start streaming to an SSE response whose headers are already written. */
  addSse(res: ServerResponse, patterns: readonly string[] | undefined, after: number | undefined): void {
    const c = new SseClient(res, this.clientOptions('sse', patterns, after));
    this.attach(c, 'sse', after, (info) => res.write(`event: gap\ndata: ${JSON.stringify(info)}\n\n`));
    res.on('close', () => c.close());
  }

  addWs(ws: WebSocket, patterns: readonly string[] | undefined, after: number | undefined): void {
    const c = new WsClient(ws, this.clientOptions('ws', patterns, after));
    this.attach(c, 'ws', after, (info) => ws.send(JSON.stringify({ type: 'gap', ...info })));
    ws.on('close', () => c.close());
    ws.on('error', () => c.close());
  }

  private clientOptions(
    transport: 'sse' | 'ws',
    patterns: readonly string[] | undefined,
    after: number | undefined,
  ): ClientOptions {
    return {
      patterns,
      limit: this.opts.clientBufferBytes,
      startAfter: after ?? this.opts.hub.lastId(),
      onCutoff: () => this.cutoffs.inc({ transport }),
      onClosed: (x) => this.remove(x, transport),
    };
  }

  stop(): void {
    this.opts.clock.clearInterval(this.heartbeatTimer);
    this.unsubscribe();
    for (const c of [...this.clients]) c.close();
  }

  private attach(
    c: LiveClient,
    transport: 'sse' | 'ws',
    after: number | undefined,
    announceGap: (info: { requestedAfter: number; oldestRetained: number }) => void,
  ): void {
    if (after !== undefined) {
      const { events, gap } = this.opts.hub.since(after, c.patterns);
      // Tell the client plainly that some events are gone instead of pretending nothing happened.
      if (gap) announceGap({ requestedAfter: after, oldestRetained: this.opts.hub.oldestId() });
      for (const e of events) c.enqueue(e, false);
    }
    this.clients.add(c);
    this.gauge.inc({ transport });
  }

  private remove(c: LiveClient, transport: 'sse' | 'ws'): void {
    if (this.clients.delete(c)) this.gauge.dec({ transport });
  }
}
