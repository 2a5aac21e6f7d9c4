import { randomUUID } from 'node:crypto';
import type { Clock, TimerHandle } from '../../../src/model/clock.js';
import type { OcppPeer } from './peer.js';
import { type Json, OcppCallError } from './wire.js';

interface Queued {
  readonly msgId: string;
  readonly action: string;
  readonly params: Json;
  readonly resolve: (res: Json | undefined) => void;
}

export interface AckedCall {
  readonly msgId: string;
  readonly action: string;
  readonly params: Json;
}

export interface CallQueueOptions {
  readonly clock: Clock;
  /** The open connection now, if any. */
  readonly peer: () => OcppPeer | undefined;
  readonly callTimeoutMs?: number;
  /** Pause before a call that got no answer is sent again, ms. */
  readonly retryMs?: number;
}

/**
 * A charger's outgoing calls, one at a time and in order, the way OCPP-J
 * asks (at most one outstanding CALL). A call the other side did not
 * answer (link down, timeout) stays at the head and is sent again with the
 * SAME message id, so a receiver can tell a repeat from a new message; a
 * CALLERROR answer removes it, as a real charger would rather than block.
 */
export class CallQueue {
  /** Every call the other side answered, in order: what the charger may forget. */
  readonly acked: AckedCall[] = [];
  private readonly items: Queued[] = [];
  private flushing = false;
  private stopped = false;
  private retry?: TimerHandle;

  constructor(private readonly opts: CallQueueOptions) {}

  get length(): number {
    return this.items.length;
  }

  push(action: string, params: Json): Promise<Json | undefined> {
    return new Promise((resolve) => {
      this.items.push({ msgId: randomUUID(), action, params, resolve });
      void this.flush();
    });
  }

  start(): void {
    this.stopped = false;
  }

  stop(): void {
    this.stopped = true;
    this.opts.clock.clearTimeout(this.retry);
  }

  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (!this.stopped && this.items.length > 0) {
        const peer = this.opts.peer();
        if (!peer) return; // sent when the link is back (the charger flushes on open)
        const next = this.items[0] as Queued;
        try {
          const res = await peer.call(next.action, next.params, next.msgId, this.opts.callTimeoutMs ?? 10_000);
          this.items.shift();
          this.acked.push({ msgId: next.msgId, action: next.action, params: next.params });
          next.resolve(res);
        } catch (err) {
          if (err instanceof OcppCallError) {
            this.items.shift();
            next.resolve(undefined);
            continue;
          }
          if (this.stopped) return;
          this.opts.clock.clearTimeout(this.retry);
          this.retry = this.opts.clock.setTimeout(() => void this.flush(), this.opts.retryMs ?? 200);
          return;
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
