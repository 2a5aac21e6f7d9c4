import type { GatewayBus } from '../bus/events.js';
import type { SetpointSink } from '../model/adapter.js';
import type { Clock } from '../model/clock.js';
import type { Setpoint } from '../model/decision.js';
import { summariseReasons } from '../model/decision.js';
import type { Logger } from '../util/logger.js';

export interface DispatcherOptions {
  readonly clock: Clock;
  readonly bus: GatewayBus;
  readonly log: Logger;
  /** Current changes smaller than this are not written (A). */
  readonly deadbandA: number;
  /**
   * Power changes smaller than this are not written (W), for set-points the device takes in W:
   * batteries (`battery:<id>`) and V2G feed-in. Default 100 W (`control.deadbandW`).
   */
  readonly deadbandW?: number;
  /** Audit hook (the set-point store). */
  readonly audit?: (ts: number, sp: Setpoint, result: string) => void;
}

interface LinkState {
  inFlight: boolean;
  /** The set-point being written now. */
  writing?: Setpoint;
  /** Latest wanted set-point not yet written; newer ones replace older ones. */
  queued?: Setpoint;
}

export interface DispatchStats {
  written: number;
  failed: number;
  skipped: number;
}

/**
 * Writes set-points to devices: only when changed beyond the dead-band,
 * serialised per EVSE with latest-wins (a slow device never receives a
 * backlog of stale set-points), decreases always written at once.
 */
export class Dispatcher {
  private readonly sinks = new Map<string, SetpointSink>();
  private readonly sent = new Map<string, Setpoint>();
  private readonly wanted = new Map<string, Setpoint>();
  private readonly links = new Map<string, LinkState>();
  readonly stats: DispatchStats = { written: 0, failed: 0, skipped: 0 };
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly opts: DispatcherOptions) {}

  /**
   * Register the device link that owns an EVSE (`CP01/1`) or a whole charger
   * (`CP01`). Returns an unregister function.
   */
  registerSink(key: string, sink: SetpointSink): () => void {
    this.sinks.set(key, sink);
    return () => {
      if (this.sinks.get(key) === sink) this.sinks.delete(key);
    };
  }

  /** The set-point last confirmed by the device, if any. */
  lastSent(evseId: string): Setpoint | undefined {
    return this.sent.get(evseId);
  }

  /** The set-point the loop wants now (whether written yet or not). */
  current(evseId: string): Setpoint | undefined {
    return this.wanted.get(evseId);
  }

  /** Forget what was written to a charger (it rebooted or reconnected), so the next round rewrites it. */
  invalidate(prefix: string): void {
    for (const key of [...this.sent.keys()]) if (key === prefix || key.startsWith(`${prefix}/`)) this.sent.delete(key);
  }

  /**
   * `unreachable`: EVSEs whose device is not connected now (status Offline, e.g. a Modbus charger
   * that stopped answering): their set-point is kept as wanted but not written (the write would
   * only wait for a timeout, round after round), a write still queued for them is dropped, and
   * what was written before is forgotten, so the device gets its set-point when it is back.
   */
  dispatch(setpoints: readonly Setpoint[], unreachable?: ReadonlySet<string>): void {
    for (const sp of setpoints) {
      this.wanted.set(sp.evseId, sp);
      if (unreachable?.has(sp.evseId)) {
        this.sent.delete(sp.evseId);
        const link = this.links.get(sp.evseId);
        if (link) link.queued = undefined;
        continue;
      }
      // Compared with what the device will have once pending writes are through, so a round that
      // repeats a set-point still in flight does not write it twice.
      const pending = this.links.get(sp.evseId);
      const prev = pending?.queued ?? pending?.writing ?? this.sent.get(sp.evseId);
      if (prev && !this.changed(prev, sp)) {
        this.stats.skipped++;
        continue;
      }
      const sink = this.sinkFor(sp.evseId);
      if (!sink) continue; // not connected: written when it (re)connects and invalidates
      const link = this.links.get(sp.evseId) ?? { inFlight: false };
      this.links.set(sp.evseId, link);
      link.queued = sp;
      if (!link.inFlight) void this.drain(sp.evseId, link, sink);
    }
  }

  /** Resolves when no write is in flight (tests and benchmarks). */
  idle(): Promise<void> {
    if ([...this.links.values()].every((l) => !l.inFlight)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private changed(prev: Setpoint, next: Setpoint): boolean {
    if (prev.phases !== next.phases) return true;
    // Starting, stopping and changing direction (charge / feed-in) are always written.
    if (Math.sign(prev.powerW) !== Math.sign(next.powerW)) return true;
    if ((prev.currentA === 0) !== (next.currentA === 0)) return true;
    if (isPowerSetpoint(prev) || isPowerSetpoint(next))
      return Math.abs(next.powerW - prev.powerW) >= (this.opts.deadbandW ?? 100);
    // Fast down, slow up: any real decrease is written at once, increases only past the dead-band.
    if (next.currentA < prev.currentA) return prev.currentA - next.currentA >= 0.1 - 1e-9; // 9.6 - 9.5 is 0.0999… in floating point
    return next.currentA - prev.currentA >= this.opts.deadbandA;
  }

  private sinkFor(evseId: string): SetpointSink | undefined {
    return this.sinks.get(evseId) ?? this.sinks.get(evseId.split('/')[0] ?? evseId);
  }

  private async drain(evseId: string, link: LinkState, sink: SetpointSink): Promise<void> {
    link.inFlight = true;
    while (link.queued) {
      const sp = link.queued;
      link.queued = undefined;
      link.writing = sp;
      const previous = this.sent.get(evseId);
      try {
        await sink.applySetpoint(sp);
        this.sent.set(evseId, sp);
        this.stats.written++;
        this.opts.audit?.(this.opts.clock.now(), sp, 'ok');
        this.opts.bus.emit('setpoint.changed', {
          setpoint: sp,
          ...(previous ? { previous } : {}),
          ts: this.opts.clock.now(),
        });
      } catch (err) {
        this.stats.failed++;
        const msg = err instanceof Error ? err.message : String(err);
        this.opts.audit?.(this.opts.clock.now(), sp, `error: ${msg}`);
        this.opts.log.warn({ evseId, err: msg, reason: summariseReasons(sp.reasons) }, 'set-point not confirmed');
      }
    }
    link.writing = undefined;
    link.inFlight = false;
    if ([...this.links.values()].every((l) => !l.inFlight)) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}

/**
 * Batteries and V2G feed-in are set in W (OPC UA / SunSpec battery set-points, OCPP 2.1 discharge
 * limits, signed Modbus W registers): their dead-band is in W; `currentA` is only an equivalent.
 */
function isPowerSetpoint(sp: Setpoint): boolean {
  return sp.evseId.startsWith('battery:') || sp.powerW < 0;
}
