import ModbusSerial from 'modbus-serial';
import type { Clock, TimerHandle } from '../../src/model/clock.js';
import { Backoff } from '../../src/util/backoff.js';
import type { Logger } from '../../src/util/logger.js';
import {
  ModbusConnectionError,
  ModbusError,
  ModbusExceptionError,
  ModbusTimeoutError,
  errorCode,
  errorMessage,
} from './errors.js';
import type { ModbusMetrics } from './metrics.js';

// modbus-serial is CommonJS with `module.exports.default = module.exports`; under
// NodeNext the class is reachable as `.default` both for the type checker and at run time.
const ModbusClientCtor = ModbusSerial.default;
type ModbusRTU = InstanceType<typeof ModbusClientCtor>;

export type Transport = 'tcp' | 'rtu' | 'rtuovertcp';

export interface LinkOptions {
  readonly id: string;
  readonly transport: Transport;
  readonly host: string;
  readonly port: number;
  readonly path?: string;
  readonly baudRate?: number;
  readonly parity?: 'none' | 'even' | 'odd';
  readonly dataBits?: 7 | 8;
  readonly stopBits?: 1 | 2;
  readonly timeoutMs: number;
  readonly gapMs?: number;
  readonly connectTimeoutMs?: number;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
}

export interface LinkDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: ModbusMetrics;
}

export type RegisterTable = 'holding' | 'input';

interface Job {
  readonly what: string;
  readonly fc: number;
  readonly timeoutMs: number;
  readonly run: (client: ModbusRTU) => Promise<unknown>;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * One Modbus connection (TCP socket or serial line) and its request queue.
 * Requests are strictly serialised (one outstanding request per link, as
 * RS-485 and most TCP devices require), each with its own timeout on the
 * injected clock, so a silent unit costs one timeout and the queue moves on.
 * While disconnected, requests fail at once instead of queueing behind a
 * dead link; reconnects back off exponentially on the clock.
 */
export class ModbusLink {
  private client?: ModbusRTU;
  private connected = false;
  private connecting = false;
  private stopped = true;
  private readonly queue: Job[] = [];
  private busy = false;
  private reconnectTimer?: TimerHandle;
  private gapTimer?: TimerHandle;
  private readonly backoff: Backoff;
  private readonly listeners = new Set<(connected: boolean) => void>();
  private lastError?: string;
  readonly id: string;

  constructor(
    readonly opts: LinkOptions,
    private readonly deps: LinkDeps,
  ) {
    this.id = opts.id;
    this.backoff = new Backoff({
      initialMs: opts.reconnectMinMs,
      maxMs: Math.max(opts.reconnectMinMs, opts.reconnectMaxMs),
    });
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Requests waiting (not counting the one in flight). */
  get queueLength(): number {
    return this.queue.length;
  }

  onConnection(fn: (connected: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Starts connecting in the background; resolves after the first attempt. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.deps.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.deps.clock.clearTimeout(this.gapTimer);
    this.gapTimer = undefined;
    this.busy = false;
    for (const job of this.queue.splice(0)) job.reject(new ModbusConnectionError(`link ${this.id} stopped`));
    await this.closeClient();
  }

  read(unitId: number, table: RegisterTable, address: number, count: number, timeoutMs?: number): Promise<number[]> {
    const fc = table === 'holding' ? 3 : 4;
    return this.enqueue<number[]>(`FC${fc} unit ${unitId} @${address}+${count}`, fc, timeoutMs, async (c) => {
      c.setID(unitId);
      const r =
        table === 'holding' ? await c.readHoldingRegisters(address, count) : await c.readInputRegisters(address, count);
      return r.data;
    });
  }

  /** FC16 (or FC06 for a single register when `single` is set). */
  write(
    unitId: number,
    address: number,
    values: readonly number[],
    opts: { single?: boolean; timeoutMs?: number } = {},
  ) {
    const fc = opts.single && values.length === 1 ? 6 : 16;
    return this.enqueue<void>(
      `FC${fc} unit ${unitId} @${address}=${values.join(',')}`,
      fc,
      opts.timeoutMs,
      async (c) => {
        c.setID(unitId);
        if (fc === 6) await c.writeRegister(address, values[0] as number);
        else await c.writeRegisters(address, [...values]);
      },
    );
  }

  private enqueue<T>(what: string, fc: number, timeoutMs: number | undefined, run: (c: ModbusRTU) => Promise<T>) {
    return new Promise<T>((resolve, reject) => {
      if (this.stopped) {
        reject(new ModbusConnectionError(`link ${this.id} stopped`));
        return;
      }
      if (!this.connected) {
        const err = new ModbusConnectionError(
          `link ${this.id} not connected${this.lastError ? ` (${this.lastError})` : ''}: ${what}`,
        );
        this.deps.metrics.errors.inc({ link: this.id, code: err.code });
        reject(err);
        return;
      }
      this.queue.push({
        what,
        fc,
        timeoutMs: timeoutMs ?? this.opts.timeoutMs,
        run,
        resolve: resolve as (v: unknown) => void,
        reject,
      });
      this.pump();
    });
  }

  private pump(): void {
    if (this.busy) return;
    const job = this.queue.shift();
    if (!job) return;
    this.busy = true;
    void this.execute(job).finally(() => {
      const gap = this.opts.gapMs ?? 0;
      if (gap > 0) {
        this.gapTimer = this.deps.clock.setTimeout(() => {
          this.gapTimer = undefined;
          this.busy = false;
          this.pump();
        }, gap);
      } else {
        this.busy = false;
        this.pump();
      }
    });
  }

  private async execute(job: Job): Promise<void> {
    const client = this.client;
    if (!client || !this.connected) {
      job.reject(new ModbusConnectionError(`link ${this.id} not connected: ${job.what}`));
      this.deps.metrics.errors.inc({ link: this.id, code: 'connection' });
      return;
    }
    this.deps.metrics.requests.inc({ link: this.id, fc: String(job.fc) });
    // Latency is a measurement, not control logic, so it uses the monotonic
    // hardware clock rather than the (possibly virtual) injected one.
    const t0 = process.hrtime.bigint();
    let timer: TimerHandle | undefined;
    let onClose: ((c: boolean) => void) | undefined;
    try {
      const result = await Promise.race([
        job.run(client),
        new Promise<never>((_, reject) => {
          timer = this.deps.clock.setTimeout(
            () => reject(new ModbusTimeoutError(`link ${this.id} ${job.what}`, job.timeoutMs)),
            job.timeoutMs,
          );
        }),
        new Promise<never>((_, reject) => {
          onClose = (c) => {
            if (!c) reject(new ModbusConnectionError(`link ${this.id} closed during ${job.what}`));
          };
          this.listeners.add(onClose);
        }),
      ]);
      this.deps.metrics.latency.observe({ link: this.id }, Number(process.hrtime.bigint() - t0) / 1e9);
      job.resolve(result);
    } catch (raw) {
      const err = normaliseError(raw, `link ${this.id} ${job.what}`, job.timeoutMs);
      this.deps.metrics.errors.inc({ link: this.id, code: errorCode(err) });
      job.reject(err);
      if (err instanceof ModbusConnectionError) this.lost(err.message);
    } finally {
      this.deps.clock.clearTimeout(timer);
      if (onClose) this.listeners.delete(onClose);
    }
  }

  private async connect(): Promise<void> {
    if (this.stopped || this.connecting || this.connected) return;
    this.connecting = true;
    const client = new ModbusClientCtor();
    // modbus-serial emits 'error' on socket errors; without a listener Node would throw.
    client.on('error', (e: unknown) =>
      this.deps.log.debug({ link: this.id, err: errorMessage(e) }, 'modbus port error'),
    );
    // No modbus-serial timeout: ours runs on the injected clock, and a second,
    // real timer per request would outlive stop().
    let timer: TimerHandle | undefined;
    try {
      await Promise.race([
        this.open(client),
        new Promise<never>((_, reject) => {
          timer = this.deps.clock.setTimeout(
            () => reject(new Error(`connect timeout after ${this.opts.connectTimeoutMs ?? 3000} ms`)),
            this.opts.connectTimeoutMs ?? 3000,
          );
        }),
      ]);
      this.deps.clock.clearTimeout(timer);
      if (this.stopped) {
        void dispose(client, this.opts.transport);
        return;
      }
      this.client = client;
      this.connected = true;
      this.lastError = undefined;
      this.backoff.reset();
      client.on('close', () => {
        if (this.client === client) this.lost('connection closed by peer');
      });
      this.deps.log.info({ link: this.id, target: this.target() }, 'modbus link connected');
      this.notify(true);
    } catch (err) {
      this.deps.clock.clearTimeout(timer);
      void dispose(client, this.opts.transport);
      const msg = errorMessage(err);
      if (msg !== this.lastError) {
        // Logged once per state change, not once per retry.
        this.deps.log.warn({ link: this.id, target: this.target(), err: msg }, 'modbus link connect failed');
      }
      this.lastError = msg;
      this.scheduleReconnect();
    } finally {
      this.connecting = false;
    }
  }

  private open(client: ModbusRTU): Promise<void> {
    const o = this.opts;
    switch (o.transport) {
      case 'tcp':
        return client.connectTCP(o.host, { port: o.port });
      case 'rtuovertcp':
        // Raw RTU frames (with CRC) over a TCP socket, as transparent serial servers expose them;
        // modbus-serial calls this port type "telnet" (its TcpRTUBuffered port speaks MBAP instead).
        return client.connectTelnet(o.host, { port: o.port });
      case 'rtu':
        return client.connectRTUBuffered(o.path ?? '', {
          baudRate: o.baudRate ?? 9600,
          parity: o.parity ?? 'none',
          dataBits: o.dataBits ?? 8,
          stopBits: o.stopBits ?? 1,
        });
    }
  }

  private lost(reason: string): void {
    if (!this.connected) return;
    this.connected = false;
    this.lastError = reason;
    this.deps.log.warn({ link: this.id, target: this.target(), reason }, 'modbus link lost');
    const client = this.client;
    this.client = undefined;
    if (client) void dispose(client, this.opts.transport);
    for (const job of this.queue.splice(0)) job.reject(new ModbusConnectionError(`link ${this.id} lost: ${reason}`));
    this.notify(false);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const delay = this.backoff.next();
    this.reconnectTimer = this.deps.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, delay);
  }

  private notify(connected: boolean): void {
    for (const fn of [...this.listeners]) fn(connected);
  }

  private async closeClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    const was = this.connected;
    this.connected = false;
    if (client) await dispose(client, this.opts.transport);
    if (was) this.notify(false);
  }

  private target(): string {
    return this.opts.transport === 'rtu' ? (this.opts.path ?? '?') : `${this.opts.host}:${this.opts.port}`;
  }
}

/**
 * Sockets are destroyed, not ended: a half-open or still-connecting socket
 * must not keep the process alive after stop(). Serial ports only close.
 */
function dispose(client: ModbusRTU, transport: Transport): Promise<void> {
  return new Promise<void>((resolve) => {
    try {
      if (transport === 'rtu') client.close(() => resolve());
      else client.destroy(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

function normaliseError(raw: unknown, what: string, timeoutMs: number): ModbusError {
  if (raw instanceof ModbusError) return raw;
  const e = raw as { modbusCode?: number; errno?: string; message?: string; code?: string };
  if (typeof e?.modbusCode === 'number') return new ModbusExceptionError(e.modbusCode, what);
  if (e?.errno === 'ETIMEDOUT' || e?.message === 'Timed out') return new ModbusTimeoutError(what, timeoutMs);
  const msg = e?.message ?? String(raw);
  if (/Port Not Open|ECONNRESET|EPIPE|closed|ECONNREFUSED/i.test(msg)) {
    return new ModbusConnectionError(`${what}: ${msg}`);
  }
  return new ModbusError(`${what}: ${msg}`, 'other');
}
