import type { Clock, TimerHandle } from '../model/clock.js';
import type { Setpoint } from '../model/decision.js';
import type { BoundPolicy } from '../model/policy.js';
import type { SiteSnapshot } from '../model/site.js';
import type { Logger } from '../util/logger.js';
import type { LoopAllocator } from './allocator.js';
import { arbitrate, type MergedLimit } from './arbiter.js';
import type { Dispatcher } from './dispatcher.js';
import { DrawEstimator } from './draw-estimate.js';

export interface ControlLoopOptions {
  readonly clock: Clock;
  readonly log: Logger;
  readonly snapshot: () => SiteSnapshot;
  readonly policies: readonly BoundPolicy[];
  readonly dispatcher: Dispatcher;
  /** Loop runs at least this often (ms). */
  readonly intervalMs: number;
  /** A change is coalesced with others arriving within this window (ms). */
  readonly coalesceMs: number;
  /**
   * A device reading (`notifyChange(false)`: a charger's meter value or status) waits longer on a big
   * site: this many ms per EVSE, at least `coalesceMs`, at most `intervalMs`. Default 1 ms: at 1000
   * chargers their readings arrive hundreds a second and a round costs ~6 ms, so a round per 50 ms
   * blocked the event loop (and every proxied message) a tenth of the time, and one per 500 ms still
   * made a third of the stalls > 2 ms that proxied messages waited for; at 1000 EVSEs they now wait for
   * the periodic round (`intervalMs`). Meter readings, limits and commands keep `coalesceMs`.
   */
  readonly deviceCoalesceMsPerEvse?: number;
  /**
   * Rounds run by the loop's own timers on a site of at least this many EVSEs are cut into phases
   * (process image, draw estimate, decisions, candidates, allocation, dispatch) with a turn of the event
   * loop between them (default 100).
   * At 1000 EVSEs a round took ~6 ms in one piece: every proxied OCPP message that arrived meanwhile
   * waited for it. The phases work on the round's own snapshot and only the last one writes, so a round
   * in flight is still one decision; `runRound` (and a round due while another is in flight) finishes
   * the one in flight first.
   */
  readonly sliceFromEvses?: number;
  /**
   * Budgets to set-points (the circuit-tree allocator of `createTreeAllocator`); with `steps`, a round in
   * phases runs a turn of the event loop between the allocation's steps too.
   */
  readonly allocate: LoopAllocator;
  /** A charger reading older than this is replaced by the estimate from its set-point, ms (default 12.5 s: 2.5 sample intervals). */
  readonly drawFreshMs?: number;
  /** Observers (metrics, failsafe events, API). */
  readonly onRound?: (round: ControlRound) => void;
}

/** The outcome of one loop round, kept for the API ("why is my car not charging?"). */
export interface ControlRound {
  readonly ts: number;
  readonly trigger: 'change' | 'interval' | 'manual';
  readonly durationMs: number;
  readonly limits: readonly MergedLimit[];
  readonly setpoints: readonly Setpoint[];
  readonly stale: readonly string[];
  readonly policyErrors: ReadonlyArray<{ policy: string; error: string }>;
}

/**
 * Runs the policies on every relevant change (coalesced, at most every
 * `coalesceMs`) and at least every `intervalMs`, then allocates and hands the
 * set-points to the dispatcher. A round is synchronous: snapshot, decide,
 * allocate, dispatch. Device writes continue asynchronously in the dispatcher.
 */
export class ControlLoop {
  /** Re-armed after every round, so change-driven rounds push the floor-interval round back. */
  private interval?: TimerHandle;
  private pendingChange?: TimerHandle;
  /** When the pending change round is due (clock ms). */
  private pendingDue = Number.POSITIVE_INFINITY;
  /** EVSEs in the last snapshot (sizes the device-reading window). */
  private evses = 0;
  private lastRunAt = Number.NEGATIVE_INFINITY;
  private running = false;
  private last?: ControlRound;
  /** A round cut into phases, and the timer of its next phase. */
  private inflight?: Generator<void, ControlRound, void>;
  private inflightTimer?: TimerHandle;
  /** The time the round's earlier phases took, and when its current one began (`durationMs`). */
  private phasesMs = 0;
  private phaseStarted = 0;
  rounds = 0;
  /** Each session's draw from its set-point where its charger has not confirmed it (site balance). */
  readonly draws: DrawEstimator;

  constructor(private readonly opts: ControlLoopOptions) {
    this.draws = new DrawEstimator({ freshMs: opts.drawFreshMs ?? 12_500 });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.runRound('manual');
  }

  stop(): void {
    this.running = false;
    // A round in flight was decided: it is written as a round in one piece would have been.
    this.finishInflight();
    this.opts.clock.clearTimeout(this.interval);
    this.opts.clock.clearTimeout(this.pendingChange);
    this.interval = undefined;
    this.pendingChange = undefined;
    this.pendingDue = Number.POSITIVE_INFINITY;
  }

  /**
   * Called on every change that may need a new decision; coalesces bursts. `urgent` (default) runs
   * within `coalesceMs` of the last round; a device reading (`false`) may wait longer on a big site
   * (`deviceCoalesceMsPerEvse`), unless an urgent change brings the round forward.
   */
  notifyChange(urgent = true): void {
    if (!this.running) return;
    const { clock, coalesceMs, intervalMs } = this.opts;
    const window = urgent
      ? coalesceMs
      : Math.min(intervalMs, Math.max(coalesceMs, this.evses * (this.opts.deviceCoalesceMsPerEvse ?? 1)));
    const now = clock.now();
    const due = Math.max(now, this.lastRunAt + window);
    if (this.pendingChange && this.pendingDue <= due) return;
    clock.clearTimeout(this.pendingChange);
    this.pendingDue = due;
    this.pendingChange = clock.setTimeout(() => {
      this.pendingChange = undefined;
      this.pendingDue = Number.POSITIVE_INFINITY;
      this.scheduledRound('change');
    }, due - now);
  }

  lastRound(): ControlRound | undefined {
    return this.last;
  }

  /** One round now, in one piece (after finishing a round in flight). */
  runRound(trigger: ControlRound['trigger']): ControlRound {
    this.finishInflight();
    return this.drain(this.phases(trigger));
  }

  /** A round the loop's timers asked for: in phases on a big site (`sliceFromEvses`). */
  private scheduledRound(trigger: ControlRound['trigger']): void {
    this.finishInflight();
    const steps = this.phases(trigger);
    if (this.evses < (this.opts.sliceFromEvses ?? 100)) {
      this.drain(steps);
      return;
    }
    this.inflight = steps;
    this.nextPhase();
  }

  private readonly nextPhase = (): void => {
    const steps = this.inflight;
    this.inflightTimer = undefined;
    if (!steps) return;
    if (this.step(steps).done) {
      this.inflight = undefined;
      return;
    }
    // Through the injected clock: a virtual clock runs the next phase at the same instant.
    this.inflightTimer = this.opts.clock.setTimeout(this.nextPhase, 0);
  };

  private finishInflight(): void {
    const steps = this.inflight;
    if (!steps) return;
    this.opts.clock.clearTimeout(this.inflightTimer);
    this.inflightTimer = undefined;
    this.inflight = undefined;
    this.drain(steps);
  }

  private step(steps: Generator<void, ControlRound, void>): IteratorResult<void, ControlRound> {
    this.phaseStarted = performance.now();
    const r = steps.next();
    this.phasesMs += performance.now() - this.phaseStarted;
    return r;
  }

  private drain(steps: Generator<void, ControlRound, void>): ControlRound {
    for (;;) {
      const r = this.step(steps);
      if (r.done) return r.value;
    }
  }

  /** The round, yielding between its phases; `durationMs` is the time spent in them, not the gaps. */
  private *phases(trigger: ControlRound['trigger']): Generator<void, ControlRound, void> {
    this.phasesMs = 0;
    const now = this.opts.clock.now();
    this.lastRunAt = now;
    const image = this.opts.snapshot();
    this.evses = image.evses.length;
    yield;
    const snapshot = this.draws.apply(image, now);
    yield;
    const arbitration = arbitrate(this.opts.policies, snapshot, now);
    for (const e of arbitration.errors)
      this.opts.log.error({ policy: e.policy, err: e.error }, 'policy failed; skipped');
    yield;
    const { allocate } = this.opts;
    const setpoints = allocate.steps ? yield* allocate.steps(snapshot, arbitration) : allocate(snapshot, arbitration);
    // A round in flight is always finished (`finishInflight`), so the allocator's memory never runs ahead
    // of what was dispatched.
    yield;
    // The estimate follows what the devices get: an increase the dispatcher paced is not in force yet.
    this.draws.record(this.opts.dispatcher.dispatch(setpoints, unreachable(snapshot)), snapshot, now);
    const durationMs = this.phasesMs + (performance.now() - this.phaseStarted);
    const round: ControlRound = {
      ts: now,
      trigger,
      durationMs,
      limits: [...arbitration.limits.values()],
      setpoints,
      stale: snapshot.stale,
      policyErrors: arbitration.errors,
    };
    this.rounds++;
    this.last = round;
    if (this.running) {
      this.opts.clock.clearTimeout(this.interval);
      this.interval = this.opts.clock.setTimeout(() => {
        this.interval = undefined;
        this.scheduledRound('interval');
      }, this.opts.intervalMs);
    }
    this.opts.onRound?.(round);
    return round;
  }
}

/** EVSEs whose charger is not connected now: set-points are not written to them (see `Dispatcher.dispatch`). */
function unreachable(snapshot: SiteSnapshot): ReadonlySet<string> | undefined {
  let out: Set<string> | undefined;
  for (const e of snapshot.evses) {
    if (e.status !== 'Offline') continue;
    out ??= new Set();
    out.add(e.id);
  }
  return out;
}
