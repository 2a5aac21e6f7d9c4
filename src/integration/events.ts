import { amps, orNull, watts } from './units.js';
import type { GatewayBus, SessionInfo } from '../bus/events.js';
import type { Clock } from '../model/clock.js';
import { summariseReasons } from '../model/decision.js';
import type { EvseStatus } from '../model/site.js';
import type { Db } from '../store/db.js';

/** Live events about the depot itself: chargers, devices, alerts, grid (what the operator dashboard follows). */
export const SITE_EVENT_TYPES = [
  'session.started',
  'session.updated',
  'session.stopped',
  'evse.status',
  'setpoint.changed',
  'device.online',
  'device.offline',
  'alert.raised',
  'alert.cleared',
  'grid.event',
  'site.failsafe',
  'site.override',
] as const;

/** Every type of live event partners can receive (SSE, WebSocket, webhooks). */
export const EVENT_TYPES = [...SITE_EVENT_TYPES, 'vehicle.updated', 'command.executed'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** One event as partners see it; `id` grows monotonically, also across restarts. */
export interface HubEvent {
  readonly id: number;
  readonly type: EventType;
  /** Epoch ms. */
  readonly ts: number;
  readonly data: Readonly<Record<string, unknown>>;
}

/** The wire form (SSE data, WebSocket message, webhook body). */
export function eventBody(e: HubEvent): {
  type: EventType;
  timestamp: string;
  data: Readonly<Record<string, unknown>>;
} {
  return { type: e.type, timestamp: new Date(e.ts).toISOString(), data: e.data };
}

/**
 * Matches `session.*`, `*`, or an exact type. Patterns are validated where
 * they enter (config, API) so this never sees garbage.
 */
export function matchesPattern(type: string, pattern: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return type === pattern;
}

export function matchesAny(type: string, patterns: readonly string[] | undefined): boolean {
  return !patterns || patterns.length === 0 || patterns.some((p) => matchesPattern(type, p));
}

export type HubListener = (e: HubEvent) => void;

export interface EventHubOptions {
  readonly clock: Clock;
  /** When given, ids continue across restarts (a block of ids is reserved at a time). */
  readonly db?: Db;
  readonly retain: number;
  readonly onListenerError?: (err: unknown) => void;
}

const ID_BLOCK = 1000;

/**
 * The one live event stream of the gateway: a bounded ring for resuming
 * clients plus synchronous listeners (SSE/WS fan-out, webhook outbox). A
 * listener must be cheap; anything slow queues and returns.
 */
export class EventHub {
  private readonly ring: (HubEvent | undefined)[];
  private head = 0; // next write position
  private size = 0;
  private nextId: number;
  private reservedUntil: number;
  private readonly listeners = new Set<HubListener>();
  private readonly reserve?: (until: number) => void;

  constructor(private readonly opts: EventHubOptions) {
    this.ring = new Array(opts.retain);
    let start = 1;
    if (opts.db) {
      const db = opts.db;
      const row = db.prepare("SELECT value FROM integration_meta WHERE key = 'event_id_reserved'").get() as
        | { value: string }
        | undefined;
      // Ids handed out before a crash are at most the reserved block: start after it.
      start = row ? Number(row.value) + 1 : 1;
      const stmt = db.prepare(
        "INSERT INTO integration_meta (key, value) VALUES ('event_id_reserved', ?) " +
          'ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      );
      this.reserve = (until) => stmt.run(String(until));
    }
    this.nextId = start;
    this.reservedUntil = start - 1;
  }

  lastId(): number {
    return this.nextId - 1;
  }

  /** Oldest retained id (or the next id when empty). */
  oldestId(): number {
    if (this.size === 0) return this.nextId;
    const idx = (this.head - this.size + this.ring.length) % this.ring.length;
    return this.ring[idx]?.id ?? this.nextId;
  }

  publish(type: EventType, data: Readonly<Record<string, unknown>>, ts = this.opts.clock.now()): HubEvent {
    if (this.nextId > this.reservedUntil) {
      this.reservedUntil = this.nextId + ID_BLOCK - 1;
      this.reserve?.(this.reservedUntil);
    }
    const e: HubEvent = { id: this.nextId++, type, ts, data };
    this.ring[this.head] = e;
    this.head = (this.head + 1) % this.ring.length;
    if (this.size < this.ring.length) this.size++;
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.opts.onListenerError?.(err);
      }
    }
    return e;
  }

  /**
   * Retained events after `afterId`, oldest first. `gap` is true when events
   * between `afterId` and the oldest retained one are no longer available.
   */
  since(afterId: number, patterns?: readonly string[]): { events: HubEvent[]; gap: boolean } {
    const out: HubEvent[] = [];
    const oldest = this.oldestId();
    const gap = afterId + 1 < oldest && afterId < this.lastId();
    for (let i = 0; i < this.size; i++) {
      const idx = (this.head - this.size + i + this.ring.length) % this.ring.length;
      const e = this.ring[idx];
      if (e && e.id > afterId && matchesAny(e.type, patterns)) out.push(e);
    }
    return { events: out, gap };
  }

  subscribe(listener: HubListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  listenerCount(): number {
    return this.listeners.size;
  }
}

/**
 * Remembers what was last published per subject (a session, an EVSE, a grid-event slot) so an
 * event that says nothing new is not sent again: partners would otherwise get the same price slot
 * or set-point over and over. `ignore` names fields that change without news (e.g. durationS).
 */
export class RepeatFilter {
  private readonly last = new Map<string, string>();
  constructor(private readonly ignore: readonly string[] = []) {}

  /** True when `data` differs from what was last seen for `subject` (and remembers it). */
  isNew(subject: string, data: Readonly<Record<string, unknown>>): boolean {
    const rest: Record<string, unknown> = { ...data };
    for (const k of this.ignore) delete rest[k];
    const key = JSON.stringify(rest);
    if (this.last.get(subject) === key) return false;
    this.last.set(subject, key);
    return true;
  }

  forget(subject: string): void {
    this.last.delete(subject);
  }
}

export interface SessionEnrichment {
  /** Tariff cost and CO2 of an energy amount, for payment apps. */
  costOf(energyWh: number): { cost: number; currency: string };
  co2Of(energyWh: number, at: number): number;
  vehicleFor(idTag: string | undefined): string | undefined;
}

export function sessionData(s: SessionInfo, now: number, enrich?: SessionEnrichment): Record<string, unknown> {
  const end = s.stoppedAt ?? now;
  const cost = enrich?.costOf(s.energyWh);
  const vehicleId = enrich?.vehicleFor(s.idTag);
  return {
    sessionId: s.id,
    chargerId: s.chargerId,
    connectorId: s.connectorId,
    evseId: s.evseId,
    idTag: s.idTag ?? null,
    vehicleId: vehicleId ?? null,
    startedAt: new Date(s.startedAt).toISOString(),
    stoppedAt: s.stoppedAt !== undefined ? new Date(s.stoppedAt).toISOString() : null,
    durationS: Math.max(0, Math.round((end - s.startedAt) / 1000)),
    energyWh: watts(s.energyWh),
    cost: cost ? Math.round(cost.cost * 100) / 100 : null,
    currency: cost?.currency ?? null,
    co2G: enrich ? Math.round(enrich.co2Of(s.energyWh, s.startedAt)) : null,
    stopReason: s.stopReason ?? null,
    upstreamTransactionId: s.upstreamTransactionId ?? null,
  };
}

/**
 * Feed the hub from the gateway bus. Returns the unsubscribe function.
 * Only changes are published (status flips, online/offline flips), not every
 * reading, so the stream stays readable by humans and cheap for partners.
 */
export function feedHubFromBus(hub: EventHub, bus: GatewayBus, clock: Clock, enrich?: SessionEnrichment): () => void {
  const evseStatus = new Map<string, EvseStatus>();
  const evseCharger = new Map<string, { chargerId: string; connectorId: number }>();
  const deviceOnline = new Map<string, boolean>();
  // Only news: the running duration alone, or a set-point equal to the last once rounded, is not.
  const sessions = new RepeatFilter(['durationS', 'cost', 'co2G']);
  const setpoints = new RepeatFilter(['previousCurrentA']);
  const offs = [
    bus.on('session.started', (s) => {
      const data = sessionData(s, clock.now(), enrich);
      sessions.isNew(s.id, data);
      hub.publish('session.started', data);
    }),
    bus.on('session.updated', (s) => {
      const data = sessionData(s, clock.now(), enrich);
      if (sessions.isNew(s.id, data)) hub.publish('session.updated', data);
    }),
    bus.on('session.stopped', (s) => {
      sessions.forget(s.id);
      hub.publish('session.stopped', sessionData(s, clock.now(), enrich));
    }),
    bus.on('evse.spec', (spec) => {
      evseCharger.set(spec.id, { chargerId: spec.chargerId, connectorId: spec.connectorId });
    }),
    bus.on('evse.live', ({ id, patch }) => {
      if (patch.status === undefined) return;
      const previous = evseStatus.get(id);
      if (previous === patch.status) return;
      evseStatus.set(id, patch.status);
      const c = evseCharger.get(id);
      hub.publish('evse.status', {
        evseId: id,
        chargerId: c?.chargerId ?? id.split('/')[0] ?? id,
        connectorId: c?.connectorId ?? null,
        status: patch.status,
        previous: previous ?? null,
      });
    }),
    bus.on('setpoint.changed', ({ setpoint, previous, ts }) => {
      const data = {
        evseId: setpoint.evseId,
        currentA: amps(setpoint.currentA),
        powerW: watts(setpoint.powerW),
        phases: setpoint.phases,
        previousCurrentA: orNull(amps, previous?.currentA),
        reason: summariseReasons(setpoint.reasons),
        reasons: setpoint.reasons,
      };
      if (setpoints.isNew(setpoint.evseId, data)) hub.publish('setpoint.changed', data, ts);
    }),
    bus.on('device', (d) => {
      if (deviceOnline.get(d.id) === d.online) return;
      deviceOnline.set(d.id, d.online);
      hub.publish(d.online ? 'device.online' : 'device.offline', {
        deviceId: d.id,
        protocol: d.protocol,
        kind: d.kind,
        error: d.error ?? null,
      });
    }),
    bus.on('failsafe', (f) => hub.publish('site.failsafe', { active: f.active, reason: f.reason }, f.ts)),
  ];
  return () => {
    for (const off of offs) off();
  };
}
