import type { GatewayBus } from '../bus/events.js';
import type { SetpointSink } from '../model/adapter.js';
import type { Clock, TimerHandle } from '../model/clock.js';
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
  /**
   * On a site of `increasePaceFromEvses` EVSEs or more (default 100), an increase of a charging
   * EVSE's current is written at most this often (ms): there a 4 A/s ramp past a 0.5 A dead-band was
   * a SetChargingProfile every 125 ms per charger, and every one came back as a meter value and another
   * round. The held increase is written when the pace allows, unless a later round changes it first.
   * Decreases, starts, stops and phase changes are never held. 0 (default) writes every increase at once.
   */
  readonly increaseEveryMs?: number;
  readonly increasePaceFromEvses?: number;
  /** Audit hook (the set-point store). */
  readonly audit?: (ts: number, sp: Setpoint, result: string) => void;
}

interface LinkState {
  inFlight: boolean;
  /** The set-point being written now. */
  writing?: Setpoint;
  /** Latest wanted set-point not yet written; newer ones replace older ones. */
  queued?: Setpoint;
  /** When the last write that raised the current was queued (clock ms), for the pace of increases. */
  lastIncreaseAt: number;
  /** An increase waiting for the pace; written by `heldTimer` unless a later round changes it first. */
  held?: Setpoint;
  heldTimer?: TimerHandle;
}

export interface DispatchStats {
  written: number;
  failed: number;
  skipped: number;
  /** Increases held back by the pace (written by a later round). */
  paced: number;
}

/**
 * Writes set-points to devices: only when changed beyond the dead-band,
 * serialised per EVSE with latest-wins (a slow device never receives a
 * backlog of stale set-points), decreases always written at once, increases
 * paced (`increaseEveryMs`): a 4 A/s ramp past a 0.5 A dead-band was a
 * SetChargingProfile every 125 ms per charger, and every one of them came back
 * as a meter value and another round.
 */
export class Dispatcher {
  private readonly sinks = new Map<string, SetpointSink>();
  private readonly sent = new Map<string, Setpoint>();
  private readonly wanted = new Map<string, Setpoint>();
  private readonly links = new Map<string, LinkState>();
  readonly stats: DispatchStats = { written: 0, failed: 0, skipped: 0, paced: 0 };
  private idleWaiters: Array<() => void> = [];
  /** Links with a write in flight (kept as a count: checking every link on each write was O(n²) per round). */
  private inFlight = 0;

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
   * Hands the round's set-points to the devices. Returns what each device will have once its writes
   * are through: the same set-points, except an increase held back by the pace, which keeps the
   * set-point already written or on its way (the draw estimate must follow the device, not the wish);
   * the held increase is written when the pace allows, unless a later round changes it first.
   *
   * `unreachable`: EVSEs whose device is not connected now (status Offline, e.g. a Modbus charger
   * that stopped answering): their set-point is kept as wanted but not written (the write would
   * only wait for a timeout, round after round), a write still queued or held for them is dropped,
   * and what was written before is forgotten, so the device gets its set-point when it is back.
   * Their set-points are left out of what is returned: not written, they are not in force (the
   * draw estimate must not take an Offline charger's vehicle to follow them).
   */
  dispatch(setpoints: readonly Setpoint[], unreachable?: ReadonlySet<string>): readonly Setpoint[] {
    let out: Array<Setpoint | undefined> | undefined;
    const now = this.opts.clock.now();
    const every = this.pace();
    for (let i = 0; i < setpoints.length; i++) {
      const sp = setpoints[i] as Setpoint;
      this.wanted.set(sp.evseId, sp);
      if (unreachable?.has(sp.evseId)) {
        this.sent.delete(sp.evseId);
        const gone = this.links.get(sp.evseId);
        if (gone) {
          gone.queued = undefined;
          this.drop(gone);
        }
        out ??= setpoints.slice();
        out[i] = undefined;
        continue;
      }
      // Compared with what the device will have once pending writes are through, so a round that
      // repeats a set-point still in flight does not write it twice.
      let link = this.links.get(sp.evseId);
      const prev = link?.queued ?? link?.writing ?? this.sent.get(sp.evseId);
      if (prev && !this.changed(prev, sp)) {
        this.stats.skipped++;
        if (link) this.drop(link);
        continue;
      }
      const sink = this.sinkFor(sp.evseId);
      if (!sink) continue; // not connected: written when it (re)connects and invalidates
      // Only increases count for the pace: a cut in between must not hold the next step back longer.
      const wait = link ? link.lastIncreaseAt + every - now : 0;
      if (prev && link && wait > 0 && isRampUp(prev, sp)) {
        this.stats.paced++;
        out ??= setpoints.slice();
        out[i] = prev;
        link.held = sp;
        const l = link;
        l.heldTimer ??= this.opts.clock.setTimeout(() => this.release(sp.evseId, l), wait);
        continue;
      }
      if (!link) {
        link = { inFlight: false, lastIncreaseAt: Number.NEGATIVE_INFINITY };
        this.links.set(sp.evseId, link);
      }
      this.drop(link);
      this.queue(sp.evseId, link, sink, sp, prev);
    }
    return out ? out.filter((x): x is Setpoint => x !== undefined) : setpoints;
  }

  /** Drops the increases held for the pace (shutdown). */
  stop(): void {
    for (const link of this.links.values()) {
      link.held = undefined;
      this.opts.clock.clearTimeout(link.heldTimer);
      link.heldTimer = undefined;
    }
  }

  private pace(): number {
    return this.links.size >= (this.opts.increasePaceFromEvses ?? 100) ? (this.opts.increaseEveryMs ?? 0) : 0;
  }

  private queue(evseId: string, link: LinkState, sink: SetpointSink, sp: Setpoint, prev: Setpoint | undefined): void {
    if (sp.currentA > (prev?.currentA ?? 0)) link.lastIncreaseAt = this.opts.clock.now();
    link.queued = sp;
    if (!link.inFlight) void this.drain(evseId, link, sink);
  }

  /** The pace has passed: the held increase (the latest the loop wanted) is written. */
  private release(evseId: string, link: LinkState): void {
    link.heldTimer = undefined;
    const sp = link.held;
    if (!sp) return; // dropped since (its timer is left to run out rather than cleared each round)
    // An increase written since the timer was set moves the pace on.
    const wait = link.lastIncreaseAt + this.pace() - this.opts.clock.now();
    if (wait > 0) {
      link.heldTimer = this.opts.clock.setTimeout(() => this.release(evseId, link), wait);
      return;
    }
    link.held = undefined;
    const sink = this.sinkFor(evseId);
    if (!sink) return;
    this.queue(evseId, link, sink, sp, link.queued ?? link.writing ?? this.sent.get(evseId));
  }

  /** Forgets a held increase; its timer finds nothing to write. */
  private drop(link: LinkState): void {
    link.held = undefined;
  }

  /** Resolves when no write is in flight (tests and benchmarks). */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
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
    this.inFlight++;
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
    this.inFlight--;
    if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }
}

/**
 * A charging EVSE's current going up on the same phases: the one change that can wait for the pace.
 * Power set-points (batteries, V2G feed-in) are not paced: a battery's discharge may be what keeps
 * the site under its import cap.
 */
function isRampUp(prev: Setpoint, next: Setpoint): boolean {
  return (
    prev.currentA > 0 &&
    next.currentA > prev.currentA &&
    prev.phases === next.phases &&
    !isPowerSetpoint(prev) &&
    !isPowerSetpoint(next)
  );
}

/**
 * Batteries and V2G feed-in are set in W (OPC UA / SunSpec battery set-points, OCPP 2.1 discharge
 * limits, signed Modbus W registers): their dead-band is in W; `currentA` is only an equivalent.
 */
function isPowerSetpoint(sp: Setpoint): boolean {
  return sp.evseId.startsWith('battery:') || sp.powerW < 0;
}
