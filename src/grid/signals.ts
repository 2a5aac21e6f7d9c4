import type { ActiveGridSignal, GridSignalsInput } from '../model/grid-signals.js';
import type { GridConfig } from '../config/sections/grid.js';
import type { Clock } from '../model/clock.js';
import type { GridSignal, SignalKind, SourceHealth } from '../model/grid.js';
import type { GridSignalSink } from '../ports/grid.js';
import type { Logger } from '../util/logger.js';
import { iso } from '../util/time.js';
import type { GridLimitOptions } from './limits.js';

export type { GridSignal, SignalKind, SourceHealth };

export interface FallbackState {
  readonly active: boolean;
  readonly importLimitW: number;
  readonly exportLimitW?: number;
  readonly why?: string;
}

/** Per-event compliance, measured from the grid meter. */
export interface EventRecord {
  readonly key: string;
  readonly source: string;
  readonly eventId: string;
  readonly eventName?: string;
  readonly kind: SignalKind;
  value: number;
  start: number;
  end: number;
  /** Event seconds counted (after the response grace). */
  observedS: number;
  compliantS: number;
  /** ms from the start to the first compliant sample. */
  responseMs?: number;
  firstSeenAt: number;
}

export interface GridStoreOptions {
  readonly clock: Clock;
  readonly config: GridConfig;
  /** Contract import limit of the site, W (for SIMPLE levels). */
  readonly siteLimitW: number;
  /** Used as the fallback import limit when `grid.fallback.importLimitW` is not set. */
  readonly failsafeLimitW: number;
  readonly staleAfterMs: number;
  readonly historySize?: number;
  /** Fuse and §14a settings (`gridLimitOptions(config)`); no fuse and no §14a source when omitted. */
  readonly limits?: GridLimitOptions;
  /** The load the gateway does not control at the last meter sample, W (`OtherLoadEstimator`). */
  readonly otherLoadW?: (now: number) => number | undefined;
  /** Warns when a signal asks for more than the contract or fuse (it is clamped). */
  readonly log?: Logger;
}

type Listener = () => void;

const LIMIT_KINDS: ReadonlySet<SignalKind> = new Set(['importLimit', 'exportLimit', 'setpoint']);

/**
 * The grid signals currently known, by source, with each source's health.
 * Sources replace their whole set whenever they speak; the store decides
 * what is active at a given time, when the fallback applies and how well the
 * site complied with each event. Time is always an argument or the injected
 * clock, so a virtual clock drives it in tests.
 */
export class GridSignalStore implements GridSignalSink {
  private readonly bySource = new Map<string, GridSignal[]>();
  private readonly health = new Map<string, SourceHealth>();
  private readonly records = new Map<string, EventRecord>();
  private readonly listeners = new Set<Listener>();
  private lastObservedAt?: number;

  constructor(private readonly opts: GridStoreOptions) {}

  get config(): GridConfig {
    return this.opts.config;
  }

  /** Called on every change (new signals, health); the control loop re-runs on it. */
  onChange(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Declare a source whose silence must engage the fallback (OpenADR VTN, OSCP capacity provider). */
  monitor(source: string): void {
    const h = this.health.get(source);
    this.health.set(source, {
      source,
      monitored: true,
      reachable: h?.reachable ?? false,
      ...(h?.lastHeardAt !== undefined ? { lastHeardAt: h.lastHeardAt } : {}),
      unreachableSince: h?.unreachableSince ?? this.opts.clock.now(),
    });
  }

  /** The source answered (a poll, a heartbeat, a message). */
  heard(source: string, now = this.opts.clock.now()): void {
    const h = this.health.get(source);
    const wasDown = h && !h.reachable;
    this.health.set(source, { source, monitored: h?.monitored ?? false, reachable: true, lastHeardAt: now });
    if (wasDown) this.emit();
  }

  /** The source failed to answer. */
  unreachable(source: string, error: string, now = this.opts.clock.now()): void {
    const h = this.health.get(source);
    const wasUp = !h || h.reachable;
    this.health.set(source, {
      source,
      monitored: h?.monitored ?? false,
      reachable: false,
      ...(h?.lastHeardAt !== undefined ? { lastHeardAt: h.lastHeardAt } : {}),
      lastError: error,
      unreachableSince: h && !h.reachable && h.unreachableSince !== undefined ? h.unreachableSince : now,
    });
    if (wasUp) this.emit();
  }

  /** Replace everything a source says (one poll's worth); marks the source as heard. */
  replace(source: string, signals: readonly GridSignal[], now = this.opts.clock.now()): void {
    this.bySource.set(
      source,
      signals.filter((s) => s.end > now - this.opts.config.fallback.holdAfterEndMs - 3_600_000),
    );
    for (const s of signals) {
      const known = this.records.has(recordKey(s));
      this.record(s);
      if (!known) this.warnAboveCeiling(s);
    }
    this.heard(source, now);
    this.emit();
  }

  /** Replace only one kind of a source's signals (e.g. prices from a separate feed). */
  replaceKind(source: string, kind: SignalKind, signals: readonly GridSignal[], now = this.opts.clock.now()): void {
    const kept = (this.bySource.get(source) ?? []).filter((s) => s.kind !== kind);
    this.replace(source, [...kept, ...signals], now);
  }

  all(): GridSignal[] {
    return [...this.bySource.values()].flat();
  }

  active(now: number, kind?: SignalKind): GridSignal[] {
    return this.all().filter((s) => s.start <= now && now < s.end && (kind === undefined || s.kind === kind));
  }

  upcoming(now: number, horizonMs = 24 * 3_600_000): GridSignal[] {
    return this.all()
      .filter((s) => s.start > now && s.start <= now + horizonMs)
      .sort((a, b) => a.start - b.start);
  }

  sources(now: number): SourceHealth[] {
    return [...this.health.values()].map((h) => ({ ...h, reachable: this.isReachable(h, now) }));
  }

  /**
   * Safe mode: a monitored source is unreachable, or a limit from an
   * unmonitored source (HTTP, MQTT) ended and that source has not spoken since.
   */
  fallback(now: number): FallbackState {
    const cfg = this.opts.config.fallback;
    const importLimitW = cfg.importLimitW ?? this.opts.failsafeLimitW;
    const base = { importLimitW, ...(cfg.exportLimitW !== undefined ? { exportLimitW: cfg.exportLimitW } : {}) };
    const whys: string[] = [];
    for (const h of this.health.values()) {
      if (h.monitored && !this.isReachable(h, now)) {
        const since = h.unreachableSince ?? h.lastHeardAt;
        whys.push(
          `${h.source} unreachable${since !== undefined ? ` since ${iso(since)}` : ''}${h.lastError ? ` (${h.lastError})` : ''}`,
        );
      }
    }
    for (const [source, signals] of this.bySource) {
      // A monitored source (VTN, capacity provider) announced the end in advance and its liveness is checked
      // above; the hold after an end is for fire-and-forget sources (HTTP, MQTT) that may simply have died.
      if (this.health.get(source)?.monitored) continue;
      const activeLimit = signals.some((s) => LIMIT_KINDS.has(s.kind) && s.start <= now && now < s.end);
      if (activeLimit) continue;
      let ended: GridSignal | undefined;
      for (const s of signals) {
        if (LIMIT_KINDS.has(s.kind) && s.end <= now && (!ended || s.end > ended.end)) ended = s;
      }
      if (!ended) continue;
      const heardAt = this.health.get(source)?.lastHeardAt ?? Number.NEGATIVE_INFINITY;
      if (heardAt < ended.end && now - ended.end < cfg.holdAfterEndMs) {
        whys.push(`${label(ended)} ended at ${iso(ended.end)} and ${source} has not confirmed since`);
      }
    }
    return whys.length > 0 ? { active: true, ...base, why: whys.join('; ') } : { active: false, ...base };
  }

  /**
   * Plain data for the grid-signals policy (its `GridSignalsInput`, bound in
   * the composition root). The type is the policy's and is checked where the
   * two meet; the core does not import policies.
   */
  input(now: number): GridSignalsInput {
    const cfg = this.opts.config;
    const act = this.active(now);
    const limits = this.opts.limits;
    const other = this.opts.otherLoadW?.(now);
    const s14a = new Set(limits?.section14aSources ?? []);
    const toActive = (s: GridSignal): ActiveGridSignal => ({
      value: s.value,
      source: s.source,
      eventId: s.eventId,
      label: label(s),
      ...(s.kind === 'importLimit' && s14a.has(s.source) ? { section14a: true } : {}),
    });
    const pick = (kind: SignalKind, better: (a: GridSignal, b: GridSignal) => boolean) => {
      let best: GridSignal | undefined;
      for (const s of act) if (s.kind === kind && (!best || better(s, best))) best = s;
      return best;
    };
    // Overlapping set-points: the more important event (lower priority number), then the newest.
    const setpoint = pick(
      'setpoint',
      (a, b) =>
        (a.priority ?? 99) < (b.priority ?? 99) || ((a.priority ?? 99) === (b.priority ?? 99) && a.start > b.start),
    );
    const simple = pick('simple', (a, b) => a.value > b.value);
    const fb = this.fallback(now);
    return {
      importLimits: act.filter((s) => s.kind === 'importLimit').map(toActive),
      exportLimits: act.filter((s) => s.kind === 'exportLimit').map(toActive),
      ...(setpoint ? { setpoint: toActive(setpoint) } : {}),
      ...(simple ? { simple: toActive(simple) } : {}),
      ...(fb.active
        ? {
            fallback: {
              importLimitW: fb.importLimitW,
              ...(fb.exportLimitW !== undefined ? { exportLimitW: fb.exportLimitW } : {}),
              why: fb.why ?? 'fallback',
            },
          }
        : {}),
      siteLimitW: this.opts.siteLimitW,
      ...(other !== undefined ? { otherLoadW: other } : {}),
      ...(limits?.fuseW !== undefined ? { fuseW: limits.fuseW } : {}),
      marginW: cfg.marginW,
      section14aMinW: limits?.section14aMinW ?? 4200,
      staleAfterMs: this.opts.staleAfterMs,
      ...(cfg.batteryControllable && cfg.vpp.battery ? { batteryId: cfg.vpp.battery.id } : {}),
      simpleLevelFactors: cfg.simple.levelFactors,
    };
  }

  /** Carbon intensity series (g/kWh), sorted by start. */
  ghg(): GridSignal[] {
    return this.all()
      .filter((s) => s.kind === 'ghg')
      .sort((a, b) => a.start - b.start);
  }

  /** Prices known around `now` (for the tariff engine), sorted by start. */
  prices(): GridSignal[] {
    return this.all()
      .filter((s) => s.kind === 'price')
      .sort((a, b) => a.start - b.start);
  }

  /**
   * Feed a grid meter sample: every active limit accumulates event seconds
   * (after the vehicles' response grace) and compliant seconds.
   */
  observe(now: number, gridW: number): void {
    const prev = this.lastObservedAt;
    this.lastObservedAt = now;
    if (prev === undefined || now <= prev) return;
    // A long gap (meter outage) is not counted as compliance either way.
    const dtS = Math.min(now - prev, 5000) / 1000;
    const cfg = this.opts.config;
    for (const s of this.active(now)) {
      if (!LIMIT_KINDS.has(s.kind)) continue;
      const rec = this.record(s);
      const ok = complies(s, gridW, cfg.complianceToleranceW);
      if (ok && rec.responseMs === undefined) rec.responseMs = now - s.start;
      if (now - s.start < cfg.responseGraceMs) continue;
      rec.observedS += dtS;
      if (ok) rec.compliantS += dtS;
    }
  }

  /** Put back records saved before a restart (older than what is known now). */
  restoreHistory(records: readonly EventRecord[]): void {
    for (const r of records) if (!this.records.has(r.key)) this.records.set(r.key, { ...r });
  }

  history(): EventRecord[] {
    return [...this.records.values()].sort((a, b) => b.start - a.start);
  }

  /** No signal raises the site above its contract or fuse: say so when one asks for it (the policy clamps it). */
  private warnAboveCeiling(s: GridSignal): void {
    if (s.kind !== 'importLimit' && s.kind !== 'setpoint') return;
    const ceiling = Math.min(this.opts.siteLimitW, this.opts.limits?.fuseW ?? Number.POSITIVE_INFINITY);
    if (s.value <= ceiling) return;
    this.opts.log?.warn(
      { source: s.source, eventId: s.eventId, valueW: s.value, ceilingW: ceiling },
      `${label(s)} asks for ${s.value} W, above the site's contract/fuse ${ceiling} W: clamped to ${ceiling} W`,
    );
  }

  private record(s: GridSignal): EventRecord {
    const key = recordKey(s);
    let rec = this.records.get(key);
    if (!rec) {
      rec = {
        key,
        source: s.source,
        eventId: s.eventId,
        ...(s.eventName !== undefined ? { eventName: s.eventName } : {}),
        kind: s.kind,
        value: s.value,
        start: s.start,
        end: s.end,
        observedS: 0,
        compliantS: 0,
        firstSeenAt: s.receivedAt,
      };
      this.records.set(key, rec);
      const max = this.opts.historySize ?? 1000;
      while (this.records.size > max) {
        const oldest = this.records.keys().next().value;
        if (oldest === undefined) break;
        this.records.delete(oldest);
      }
    } else {
      rec.value = s.value;
      rec.end = s.end;
    }
    return rec;
  }

  private isReachable(h: SourceHealth, now: number): boolean {
    if (!h.reachable) return false;
    if (!h.monitored) return true;
    return h.lastHeardAt !== undefined && now - h.lastHeardAt <= this.opts.config.fallback.sourceTimeoutMs;
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }
}

function recordKey(s: GridSignal): string {
  return `${s.source}:${s.eventId}:${s.kind}:${s.start}`;
}

/** Did the site meet a signal with this grid power (+ import)? */
export function complies(s: GridSignal, gridW: number, toleranceW: number): boolean {
  switch (s.kind) {
    case 'importLimit':
      return gridW <= s.value + toleranceW;
    case 'exportLimit':
      return -gridW <= s.value + toleranceW;
    case 'setpoint':
      // A set-point is met when the site is at or below it (more export than asked is not a violation of a cap).
      return gridW <= s.value + Math.max(toleranceW, Math.abs(s.value) * 0.05);
    default:
      return true;
  }
}

export function label(s: Pick<GridSignal, 'source' | 'eventId' | 'eventName' | 'end'>): string {
  const name = s.eventName ? ` "${s.eventName}"` : '';
  const until = Number.isFinite(s.end) ? ` until ${iso(s.end)}` : '';
  return `${s.source} event${name} (${s.eventId})${until}`;
}
