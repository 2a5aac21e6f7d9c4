import type { MessagePort, Worker } from 'node:worker_threads';
import type { OcppProxyConfig } from '../../adapters/ocpp/index.js';

/**
 * Messages between the OCPP proxy's worker thread (ocpp-worker.ts) and its host on the main thread
 * (ocpp-worker-host.ts). One channel each way, batched per event-loop turn, in order: what the worker
 * emits for one charger arrives on the main thread in the order it was emitted.
 */
export interface OcppWorkerData {
  readonly cfg: OcppProxyConfig;
  /** The gateway's SQLite file (migrated by the main thread before the worker starts). */
  readonly dbPath: string;
  readonly logLevel: string;
  readonly env: Record<string, string>;
  /** Whether the main thread has an external authoriser to ask. */
  readonly authorise: boolean;
  readonly authoriseTimeoutMs?: number;
}

/** A prom-client metric as the worker's registry reports it (`getMetricsAsJSON`). */
export interface MetricInfo {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly aggregator: string;
}

export interface LinkState {
  readonly connected: readonly string[];
  readonly online: readonly string[];
}

export type ToMain =
  | { t: 'ready'; port: number; metrics: MetricInfo[] }
  | { t: 'startFailed'; error: string }
  | { t: 'stopped' }
  | { t: 'bus'; event: string; payload: unknown }
  | { t: 'sink'; key: string; on: boolean }
  | { t: 'invalidate'; prefix: string }
  | { t: 'links'; state: LinkState }
  | { t: 'stats'; stats: Record<string, number> }
  | { t: 'callback'; name: 'needs' | 'chargerError' | 'firmware'; args: unknown[] }
  | { t: 'authorise'; id: number; req: unknown }
  | { t: 'reply'; id: number; ok: boolean; value?: unknown; error?: string }
  | { t: 'log'; line: string };

export type ToWorker =
  | { t: 'start' }
  | { t: 'stop' }
  | { t: 'setpoint'; id: number; key: string; setpoint: unknown }
  | { t: 'command'; id: number; name: 'remoteStart' | 'remoteStop' | 'setAvailability'; req: unknown }
  | { t: 'metrics'; id: number }
  | { t: 'kick' }
  | { t: 'reply'; id: number; ok: boolean; value?: unknown; error?: string };

/**
 * Posts messages in batches: one `postMessage` per event-loop turn instead of one per message (a structured
 * clone and a wake-up of the other thread each), in the order they were sent.
 */
export class Channel<T> {
  private queue: T[] = [];
  private scheduled = false;

  constructor(private readonly port: Pick<MessagePort | Worker, 'postMessage'>) {}

  send(msg: T): void {
    this.queue.push(msg);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.port.postMessage(batch);
  }
}

/** Calls answered by a `reply` message with the same id. */
export class Pending {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  open(): { id: number; answer: Promise<unknown> } {
    const id = this.next++;
    const answer = new Promise<unknown>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    return { id, answer };
  }

  settle(msg: { id: number; ok: boolean; value?: unknown; error?: string }): void {
    const w = this.waiting.get(msg.id);
    if (!w) return;
    this.waiting.delete(msg.id);
    if (msg.ok) w.resolve(msg.value);
    else w.reject(new Error(msg.error ?? 'failed'));
  }

  /** Everything still waiting fails with `err` (the other side is gone). */
  failAll(err: Error): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}

/** Answer a `reply`-style request with whatever `work` settles to. */
export function answer(
  send: (msg: { t: 'reply'; id: number; ok: boolean; value?: unknown; error?: string }) => void,
  id: number,
  work: () => Promise<unknown>,
): void {
  work().then(
    (value) => send({ t: 'reply', id, ok: true, value }),
    (err: unknown) => send({ t: 'reply', id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
}
