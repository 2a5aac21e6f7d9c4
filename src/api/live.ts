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

/** How one transport (an SSE response or a WebSocket) carries frames; the flow control is the client's. */
interface LiveWire {
  /** Bytes written but not yet handed to the kernel. */
  buffered(): number;
  write(frame: string): void;
  /** Calls `resume` once the buffered bytes have gone out. */
  waitDrain(resume: () => void): void;
  frameOf(e: HubEvent): string;
  /** Tells the client to resume after `resumeAfter`, then drops the connection. */
  overflow(resumeAfter: number): void;
  /** Tells the client which events are gone (it asked to resume after `requestedAfter`). */
  gap(info: { requestedAfter: number; oldestRetained: number }): void;
  heartbeat(): void;
  /** Ends the connection if it is still open. */
  end(): void;
}

/**
 * One live client (SSE response or WebSocket). Frames go straight to the
 * socket while it keeps up; otherwise they queue, and once the queued live
 * bytes exceed the budget the client is cut off with the id to resume after.
 * Nothing here ever waits on a client, so one slow reader cannot delay the
 * hub, the control loop or the other clients.
 */
class LiveClient {
  private queue: Queued[] = [];
  private qHead = 0;
  private liveBytes = 0;
  private waiting = false;
  lastWritten: number;
  closed = false;

  readonly patterns: readonly string[] | undefined;
  private readonly limit: number;
  private readonly onCutoff: () => void;
  private readonly onClosed: (c: LiveClient) => void;

  constructor(
    readonly wire: LiveWire,
    o: ClientOptions,
  ) {
    this.patterns = o.patterns;
    this.limit = o.limit;
    this.onCutoff = o.onCutoff;
    this.onClosed = o.onClosed;
    this.lastWritten = o.startAfter;
  }

  enqueue(e: HubEvent, live: boolean): void {
    if (this.closed || !matchesAny(e.type, this.patterns)) return;
    const frame = this.wire.frameOf(e);
    if (this.qHead === this.queue.length && !this.waiting && this.wire.buffered() < this.limit) {
      this.wire.write(frame);
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
      if (this.wire.buffered() >= this.limit) {
        if (!this.waiting) {
          this.waiting = true;
          this.wire.waitDrain(() => {
            this.waiting = false;
            this.pump();
          });
        }
        return;
      }
      const q = this.queue[this.qHead++]!;
      this.wire.write(q.frame);
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
    this.wire.overflow(this.lastWritten);
    this.close();
  }

  heartbeat(): void {
    if (!this.closed) this.wire.heartbeat();
  }

  close(): void {
    if (!this.closed) {
      this.closed = true;
      this.queue = [];
      this.onClosed(this);
    }
    this.wire.end();
  }
}

function sseWire(res: ServerResponse, limit: number): LiveWire {
  return {
    buffered: () => res.writableLength,
    write: (frame) => res.write(frame),
    waitDrain: (resume) => res.once('drain', resume),
    frameOf: sseFrame,
    overflow(resumeAfter) {
      // No `id:` line: the client's Last-Event-ID stays at the last real event.
      res.write(
        `event: overflow\ndata: ${JSON.stringify({ resumeAfter, reason: 'client too slow; reconnect with Last-Event-ID' })}\n\n`,
      );
      // Close the connection itself, not only the response (keep-alive would hold it open);
      // the socket is detached from the response once it finishes, so keep it.
      const socket = res.socket;
      res.end(() => socket?.end());
      // A client that reads nothing never lets end() finish: drop it after a grace period.
      const t = setTimeout(() => socket?.destroy(), 5000);
      t.unref();
    },
    gap: (info) => res.write(`event: gap\ndata: ${JSON.stringify(info)}\n\n`),
    heartbeat() {
      if (res.writableLength < limit) res.write(': keep-alive\n\n');
    },
    end() {
      if (!res.writableEnded) res.end();
    },
  };
}

function wsWire(ws: WebSocket): LiveWire {
  return {
    buffered: () => ws.bufferedAmount,
    write: (frame) => ws.send(frame),
    // The callback of a send runs once that frame left the user-space buffer.
    waitDrain: (resume) => ws.send(JSON.stringify({ type: 'ping' }), () => resume()),
    frameOf: wsFrame,
    overflow(resumeAfter) {
      ws.send(JSON.stringify({ type: 'overflow', resumeAfter, reason: 'client too slow; reconnect with lastEventId' }));
      ws.close(1013, 'client too slow');
      const t = setTimeout(() => ws.terminate(), 5000);
      t.unref();
    },
    gap: (info) => ws.send(JSON.stringify({ type: 'gap', ...info })),
    heartbeat: () => ws.ping(),
    end() {
      if (ws.readyState === ws.OPEN) ws.close(1001, 'gateway stopping');
    },
  };
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
    // A second LiveStreams on the same registry (tests, restarts) shares its metrics.
    const perTransport = <M>(
      name: string,
      make: (o: { name: string; labelNames: ['transport']; registers: Registry[] }) => M,
    ) =>
      (opts.metrics.getSingleMetric(name) as M | undefined) ??
      make({ name, labelNames: ['transport'], registers: [opts.metrics] });
    this.gauge = perTransport(
      'gridkeeper_api_live_clients',
      (o) => new Gauge({ ...o, help: 'Connected live-event clients' }),
    );
    this.cutoffs = perTransport(
      'gridkeeper_api_live_cutoffs_total',
      (o) => new Counter({ ...o, help: 'Live-event clients cut off for reading too slowly' }),
    );
    this.heartbeatTimer = opts.clock.setInterval(() => {
      for (const c of this.clients) c.heartbeat();
    }, opts.heartbeatMs);
  }

  count(): number {
    return this.clients.size;
  }

  /** Start streaming to an SSE response whose headers are already written. */
  addSse(res: ServerResponse, patterns: readonly string[] | undefined, after: number | undefined): void {
    const c = new LiveClient(sseWire(res, this.opts.clientBufferBytes), this.clientOptions('sse', patterns, after));
    this.attach(c, 'sse', after);
    res.on('close', () => c.close());
  }

  addWs(ws: WebSocket, patterns: readonly string[] | undefined, after: number | undefined): void {
    const c = new LiveClient(wsWire(ws), this.clientOptions('ws', patterns, after));
    this.attach(c, 'ws', after);
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

  private attach(c: LiveClient, transport: 'sse' | 'ws', after: number | undefined): void {
    if (after !== undefined) {
      const { events, gap } = this.opts.hub.since(after, c.patterns);
      // Tell the client plainly that some events are gone instead of pretending nothing happened.
      if (gap) c.wire.gap({ requestedAfter: after, oldestRetained: this.opts.hub.oldestId() });
      for (const e of events) c.enqueue(e, false);
    }
    this.clients.add(c);
    this.gauge.inc({ transport });
  }

  private remove(c: LiveClient, transport: 'sse' | 'ws'): void {
    if (this.clients.delete(c)) this.gauge.dec({ transport });
  }
}
