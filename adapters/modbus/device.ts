import type { Clock, TimerHandle } from '../../src/model/clock.js';
import type { DeviceStatus } from '../../src/model/site.js';
import type { GatewayBusPort } from '../../src/ports/bus.js';
import { Backoff } from '../../src/util/backoff.js';
import type { Logger } from '../../src/util/logger.js';
import { errorMessage } from './errors.js';
import type { ModbusMetrics } from './metrics.js';

export type DeviceRole = 'grid' | 'pv' | 'battery' | 'charger' | 'load';

const KIND: Record<DeviceRole, DeviceStatus['kind']> = {
  grid: 'meter',
  pv: 'pv',
  battery: 'battery',
  charger: 'charger',
  load: 'load',
};

/** What a concrete device type (SunSpec, profile) implements; the runner does the rest. */
export interface DeviceDriver {
  /** One-off set-up after (re)connection: discovery, static reads. Retried until it succeeds. */
  init(): Promise<void>;
  /** Read and publish. Throws on any failure. */
  poll(): Promise<void>;
  /** The device went offline: publish its readings as bad so nothing reuses them. */
  markBad(reason: string): void;
}

export interface DeviceRunnerOptions {
  readonly id: string;
  readonly role: DeviceRole;
  readonly pollMs: number;
  readonly offlineAfterFailures: number;
  /** Longest interval between probes of an offline device. */
  readonly maxBackoffMs: number;
}

export interface DeviceRunnerDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: GatewayBusPort;
  readonly metrics: ModbusMetrics;
}

/**
 * Polls one device on its own schedule. Consecutive failures past the
 * threshold mark it offline (one `device` event, readings published as bad),
 * after which it is probed with exponential back-off, so a dead device
 * costs its link one timeout per back-off period, not one per poll.
 */
export class DeviceRunner {
  private timer?: TimerHandle;
  private running = false;
  private initialised = false;
  private failures = 0;
  private online: boolean | undefined;
  private readonly backoff: Backoff;
  /** Wait before the next probe of an offline device. */
  private probeMs: number;
  private lastSeen?: number;
  private lastError?: string;
  private inFlight?: Promise<void>;
  /** Polls completed (tests and benchmarks). */
  polls = 0;

  constructor(
    readonly opts: DeviceRunnerOptions,
    private readonly driver: DeviceDriver,
    private readonly deps: DeviceRunnerDeps,
  ) {
    this.backoff = new Backoff({ initialMs: opts.pollMs, maxMs: Math.max(opts.pollMs, opts.maxBackoffMs) });
    this.probeMs = opts.pollMs;
  }

  get isOnline(): boolean {
    return this.online === true;
  }

  start(): void {
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight?.catch(() => {});
  }

  /** Run one poll cycle now (tests, benchmarks). */
  async pollNow(): Promise<void> {
    await this.cycle();
  }

  /** The link reconnected: run discovery again, the device may have been replaced. */
  reinit(): void {
    this.initialised = false;
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.deps.clock.clearTimeout(this.timer);
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = undefined;
      this.inFlight = this.cycle().finally(() => {
        this.inFlight = undefined;
        this.schedule(this.online === false ? this.probeMs : this.opts.pollMs);
      });
    }, ms);
  }

  private async cycle(): Promise<void> {
    try {
      if (!this.initialised) {
        await this.driver.init();
        this.initialised = true;
      }
      await this.driver.poll();
      this.polls++;
      this.succeeded();
    } catch (err) {
      this.failed(err);
    }
  }

  private succeeded(): void {
    this.failures = 0;
    this.backoff.reset();
    this.lastSeen = this.deps.clock.now();
    this.lastError = undefined;
    if (this.online !== true) {
      this.online = true;
      this.deps.log.info({ device: this.opts.id }, 'modbus device online');
      this.deps.metrics.online.set({ device: this.opts.id }, 1);
    }
    // Published on every poll: lastSeen is what the API shows.
    this.emitStatus();
  }

  private failed(err: unknown): void {
    this.failures++;
    const msg = errorMessage(err);
    this.lastError = msg;
    if (this.online === false) {
      this.probeMs = this.backoff.next();
      return;
    }
    if (this.failures < this.opts.offlineAfterFailures && this.online === true) {
      this.deps.log.debug({ device: this.opts.id, err: msg }, 'modbus poll failed');
      return;
    }
    this.online = false;
    this.initialised = false;
    this.probeMs = this.backoff.next();
    this.deps.log.warn({ device: this.opts.id, err: msg }, 'modbus device offline');
    this.deps.metrics.online.set({ device: this.opts.id }, 0);
    this.driver.markBad(msg);
    this.emitStatus();
  }

  private emitStatus(): void {
    this.deps.bus.emit('device', {
      id: this.opts.id,
      protocol: 'modbus',
      kind: KIND[this.opts.role],
      online: this.online === true,
      ...(this.lastSeen !== undefined ? { lastSeen: this.lastSeen } : {}),
      ...(this.lastError !== undefined ? { error: this.lastError } : {}),
    });
  }
}
