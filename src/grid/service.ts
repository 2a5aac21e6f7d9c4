import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { GatewayBus } from '../bus/events.js';
import type { GatewayConfig } from '../config/schema.js';
import type { Clock } from '../model/clock.js';
import type { PriceSeriesFetcher } from '../ports/price-feed.js';
import type { Db } from '../store/db.js';
import { type GridMetrics, gridMetrics } from '../util/grid-metrics.js';
import type { Logger } from '../util/logger.js';
import { iso } from '../util/time.js';
import { GridPersistence } from './persistence.js';
import { createPriceFeed, type PriceFeed } from './price-feed.js';
import { createTariff, type PriceBreakdown, type Tariff } from './tariff.js';
import { gridLimitOptions, LimitWatch, warnDeprecatedGridKeys } from './limits.js';
import { type EventRecord, type FallbackState, type GridSignal, GridSignalStore, type SignalKind } from './signals.js';
import { OtherLoadEstimator } from './other-load.js';
import { V2gResponse } from './v2g-response.js';
import { type GridEventView, OPENADR_KIND, type SignalView, UNITS } from './views.js';

export type { GridEventView, SignalView };
import type { GridLimitStatus } from '../model/grid.js';

/** Body of `POST /api/v1/grid/limit` and of the MQTT simple-signal topic. */
export const SimpleSignalSchema = z
  .object({
    importLimitW: z.number().finite().nonnegative().optional(),
    exportLimitW: z.number().finite().nonnegative().optional(),
    /** Site set-point, W (+ import, - export). */
    setpointW: z.number().finite().optional(),
    /** OpenADR SIMPLE level 0..3. */
    level: z.number().int().min(0).max(3).optional(),
    /** End of validity: ISO 8601 with offset, or epoch ms. */
    until: z.union([z.iso.datetime({ offset: true }), z.number().int().positive()]),
    /** Start of validity (default: now). */
    from: z.union([z.iso.datetime({ offset: true }), z.number().int().positive()]).optional(),
    /** Caller's event id, shown in reasons and history. */
    id: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[A-Za-z0-9_.:-]+$/)
      .optional(),
  })
  .strict()
  .refine(
    (b) =>
      b.importLimitW !== undefined ||
      b.exportLimitW !== undefined ||
      b.setpointW !== undefined ||
      b.level !== undefined,
    { message: 'one of importLimitW, exportLimitW, setpointW, level is required', path: ['importLimitW'] },
  );

export type SimpleSignalBody = z.infer<typeof SimpleSignalSchema>;

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export type SimpleSignalResult =
  | { readonly ok: true; readonly eventId: string; readonly signals: readonly GridSignal[] }
  | { readonly ok: false; readonly errors: readonly FieldError[] };

const SignalViewSchema = z.object({
  kind: z.string().describe('IMPORT_CAPACITY_LIMIT, EXPORT_CAPACITY_LIMIT, DISPATCH_SETPOINT, PRICE or SIMPLE'),
  value: z.number(),
  unit: z.string(),
  source: z.string().describe('openadr, oscp, http, mqtt'),
  eventId: z.string(),
  eventName: z.string().optional(),
  start: z.string(),
  end: z.string().optional(),
});

/** Response schema of `GET /api/v1/grid` (for the route's OpenAPI document). */
export const GridStatusSchema = z.object({
  ts: z.string(),
  active: z.array(SignalViewSchema),
  next: z.array(SignalViewSchema),
  sources: z.array(
    z.object({
      source: z.string(),
      reachable: z.boolean(),
      monitored: z.boolean(),
      lastHeardAt: z.string().optional(),
      lastError: z.string().optional(),
    }),
  ),
  fallback: z.object({
    active: z.boolean(),
    importLimitW: z.number(),
    exportLimitW: z.number().optional(),
    why: z.string().optional(),
  }),
  price: z.record(z.string(), z.unknown()).optional(),
  limit: z
    .record(z.string(), z.unknown())
    .describe('The binding import limit, judged at the grid meter (met: false is loud).'),
  adapters: z.record(z.string(), z.unknown()),
});

export interface GridStatus {
  readonly ts: string;
  readonly active: readonly SignalView[];
  readonly next: readonly SignalView[];
  readonly sources: ReadonlyArray<{
    source: string;
    reachable: boolean;
    monitored: boolean;
    lastHeardAt?: string;
    lastError?: string;
  }>;
  readonly fallback: FallbackState;
  /** Tariff in force now (when components are configured). */
  readonly price?: PriceBreakdown;
  /** The binding import limit and whether the grid meter shows it met. */
  readonly limit: GridLimitStatus;
  /** Status of the attached grid adapters (OpenADR VEN: programs, clock skew, rejected events; OSCP: handshake). */
  readonly adapters: Readonly<Record<string, unknown>>;
}

export interface GridServiceDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Registry;
  /** Grid meter readings feed the compliance history. */
  readonly bus?: GatewayBus;
  /** With a database (GRID_MIGRATIONS applied) the event history and the last good prices survive restarts. */
  readonly db?: Db;
  /** Fetches `grid.tariff.dynamic.url` (HTTP in production: adapters/price-feed); not fetched without one. */
  readonly priceFetcher?: PriceSeriesFetcher;
}

export interface GridService {
  readonly store: GridSignalStore;
  /** V2G vehicles that did not follow a discharge set-point (left out of dispatch for a while). */
  readonly v2g: V2gResponse;
  readonly metrics: GridMetrics;
  /** Dynamic prices (URL, MQTT, OpenADR PRICE) with the last good series kept. */
  readonly prices: PriceFeed;
  /** `priceAt(ts)`: the composed tariff (energy + grid fee + levies + VAT, import and export). */
  readonly tariff: Tariff;
  /** `POST /api/v1/grid/limit`: validate and apply (replaces earlier signals of the same source). */
  applySimpleSignal(body: unknown, source?: string): SimpleSignalResult;
  /** MQTT: payload of the simple-signal topic (JSON text or buffer). An empty payload clears the source's signals. */
  handleMqttMessage(topic: string, payload: Buffer | string): SimpleSignalResult;
  /** Topic the MQTT adapter should subscribe to for simple signals. */
  readonly mqttTopic: string;
  /** `GET /api/v1/grid`. */
  status(): GridStatus;
  /** Show an adapter's own status in `status().adapters` (e.g. `attachStatus('openadr', () => ven.status())`). */
  attachStatus(name: string, fn: () => unknown): void;
  /** `GET /api/v1/grid/events`: history with compliance per event (GridProvider of the API). */
  events(opts?: { from?: number; to?: number }): GridEventView[];
  start(): void;
  stop(): void;
}

/**
 * The grid area as the rest of the gateway sees it: the signal store, simple
 * DR signals (HTTP / MQTT), the API's data, metrics, and compliance fed from
 * the grid meter. Adapters (OpenADR VEN, OSCP) write into `store`.
 */
export function createGridService(config: GatewayConfig, deps: GridServiceDeps): GridService {
  const { clock, log } = deps;
  const grid = config.grid;
  const otherLoad = new OtherLoadEstimator({
    staleAfterMs: config.site.staleAfterMs,
    countBattery: grid.batteryControllable && grid.vpp.battery !== undefined,
  });
  const v2g = new V2gResponse({ followMs: 3000, holdMs: 60_000 });
  const store = new GridSignalStore({
    otherLoadW: (now) => otherLoad.value(now),
    clock,
    config: grid,
    siteLimitW: config.site.limitW,
    failsafeLimitW: config.site.failsafeLimitW,
    staleAfterMs: config.site.staleAfterMs,
    limits: gridLimitOptions(config),
    log,
  });
  warnDeprecatedGridKeys(config, log);
  const limitWatch = new LimitWatch({
    input: (now) => store.input(now),
    toleranceW: grid.complianceToleranceW,
    log,
    onChange: (s) => deps.bus?.emit('grid.limit', s),
  });
  const metrics = gridMetrics(deps.metrics);
  const persistence = deps.db ? new GridPersistence(deps.db) : undefined;
  if (persistence) store.restoreHistory(persistence.loadEvents());
  const prices = createPriceFeed(grid.tariff.dynamic, {
    clock,
    log,
    metrics: deps.metrics,
    store,
    ...(deps.priceFetcher ? { fetcher: deps.priceFetcher } : {}),
    ...(persistence
      ? { cache: { load: (src) => persistence.loadPrices(src), save: (src, pts) => persistence.savePrices(src, pts) } }
      : {}),
  });
  const flush = () => {
    try {
      persistence?.saveEvents(store.history());
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'grid event history not saved');
    }
  };
  const tariff = createTariff(grid.tariff, () => prices.series());
  const mqttTopic = grid.simple.mqttTopic ?? `gridkeeper/${config.site.id}/grid/limit/set`;
  let offGrid: (() => void) | undefined;
  let fallbackWas = false;
  let seq = 0;

  const reject = (source: string, errors: FieldError[]): SimpleSignalResult => {
    for (const e of errors) {
      metrics.rejected.inc({ source, field: e.path });
      log.warn({ source, field: e.path, err: e.message }, `grid signal rejected: ${e.path}: ${e.message}`);
    }
    return { ok: false, errors };
  };

  const applySimpleSignal = (body: unknown, source = 'http'): SimpleSignalResult => {
    if (!grid.simple.enabled) return reject(source, [{ path: '(root)', message: 'simple signals are disabled' }]);
    const parsed = SimpleSignalSchema.safeParse(body);
    if (!parsed.success) {
      return reject(
        source,
        parsed.error.issues.map((i) => ({
          path: i.path.length ? i.path.map(String).join('.') : '(root)',
          message: i.message,
        })),
      );
    }
    const b = parsed.data;
    const now = clock.now();
    const until = typeof b.until === 'number' ? b.until : Date.parse(b.until);
    const from = b.from === undefined ? now : typeof b.from === 'number' ? b.from : Date.parse(b.from);
    if (until <= now) return reject(source, [{ path: 'until', message: `is in the past (${iso(until)})` }]);
    if (until <= from) return reject(source, [{ path: 'until', message: 'must be after from' }]);
    if (until - Math.max(from, now) > grid.simple.maxDurationMs) {
      return reject(source, [{ path: 'until', message: `more than ${grid.simple.maxDurationMs} ms ahead` }]);
    }
    const eventId = b.id ?? `${source}-${now}-${++seq}`;
    const make = (kind: SignalKind, value: number): GridSignal => ({
      kind,
      value,
      source,
      eventId,
      start: from,
      end: until,
      receivedAt: now,
    });
    const signals: GridSignal[] = [];
    if (b.importLimitW !== undefined) signals.push(make('importLimit', b.importLimitW));
    if (b.exportLimitW !== undefined) signals.push(make('exportLimit', b.exportLimitW));
    if (b.setpointW !== undefined) signals.push(make('setpoint', b.setpointW));
    if (b.level !== undefined) signals.push(make('simple', b.level));
    store.replace(source, signals, now);
    for (const s of signals) metrics.accepted.inc({ source, kind: s.kind });
    log.info({ ...b, source, eventId, until: iso(until) }, 'simple grid signal applied');
    return { ok: true, eventId, signals };
  };

  const handleMqttMessage = (topic: string, payload: Buffer | string): SimpleSignalResult => {
    const text = typeof payload === 'string' ? payload : payload.toString('utf8');
    if (text.trim() === '') {
      store.replace('mqtt', [], clock.now());
      return { ok: true, eventId: '', signals: [] };
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      return reject('mqtt', [{ path: '(root)', message: `not JSON on ${topic}: ${(err as Error).message}` }]);
    }
    return applySimpleSignal(body, 'mqtt');
  };

  const view = (s: GridSignal): SignalView => ({
    kind: OPENADR_KIND[s.kind],
    value: s.value,
    unit: s.kind === 'price' && s.currency ? `${s.currency} per kWh` : UNITS[s.kind],
    source: s.source,
    eventId: s.eventId,
    ...(s.eventName !== undefined ? { eventName: s.eventName } : {}),
    start: iso(s.start),
    ...(Number.isFinite(s.end) ? { end: iso(s.end) } : {}),
  });

  const status = (): GridStatus => {
    const now = clock.now();
    return {
      ts: iso(now),
      active: store.active(now).map(view),
      next: store.upcoming(now).slice(0, 48).map(view),
      sources: store.sources(now).map((h) => ({
        source: h.source,
        reachable: h.reachable,
        monitored: h.monitored,
        ...(h.lastHeardAt !== undefined ? { lastHeardAt: iso(h.lastHeardAt) } : {}),
        ...(h.lastError !== undefined ? { lastError: h.lastError } : {}),
      })),
      fallback: store.fallback(now),
      ...(grid.tariff.components.length > 0 ? { price: tariff.priceAt(now) } : {}),
      limit: limitWatch.status(),
      adapters: Object.fromEntries([...adapterStatus].map(([name, fn]) => [name, fn()])),
    };
  };

  const events = (opts: { from?: number; to?: number } = {}): GridEventView[] => {
    const now = clock.now();
    return store
      .history()
      .filter((r) => (opts.from === undefined || r.end >= opts.from) && (opts.to === undefined || r.start <= opts.to))
      .map((r: EventRecord) => ({
        id: r.eventId,
        source: r.source,
        kind: OPENADR_KIND[r.kind],
        start: r.start,
        ...(Number.isFinite(r.end) ? { end: r.end } : {}),
        value: r.value,
        unit: UNITS[r.kind],
        status: now < r.start ? 'pending' : now < r.end ? 'active' : 'completed',
        detail: {
          ...(r.eventName !== undefined ? { eventName: r.eventName } : {}),
          observedSeconds: Math.round(r.observedS),
          compliantSeconds: Math.round(r.compliantS),
          compliancePct: r.observedS > 0 ? Math.round((1000 * r.compliantS) / r.observedS) / 10 : null,
          responseSeconds: r.responseMs !== undefined ? r.responseMs / 1000 : null,
        },
      }));
  };

  const onFallbackCheck = () => {
    const fb = store.fallback(clock.now());
    metrics.fallbackActive.set(fb.active ? 1 : 0);
    if (fb.active !== fallbackWas) {
      fallbackWas = fb.active;
      if (fb.active) log.warn({ importLimitW: fb.importLimitW, why: fb.why }, 'grid fallback engaged');
      else log.info('grid fallback released');
    }
  };
  store.onChange(onFallbackCheck);
  let fallbackTimer: ReturnType<Clock['setInterval']> | undefined;
  let ticks = 0;
  const adapterStatus = new Map<string, () => unknown>();

  return {
    store,
    v2g,
    metrics,
    prices,
    tariff,
    mqttTopic,
    applySimpleSignal,
    handleMqttMessage,
    status,
    attachStatus: (name, fn) => void adapterStatus.set(name, fn),
    events,
    start() {
      if (deps.bus) {
        const offOther = otherLoad.attach(deps.bus);
        const offV2g = v2g.attach(deps.bus);
        const offMeter = deps.bus.on('grid', (g) => {
          if (!g.powerW) return;
          store.observe(g.powerW.ts, g.powerW.value);
          limitWatch.observe(g.powerW.ts, g.powerW.value);
        });
        offGrid = () => {
          offOther();
          offV2g();
          offMeter();
        };
      }
      fallbackTimer = clock.setInterval(() => {
        onFallbackCheck();
        if (persistence && ++ticks % 10 === 0) flush();
      }, 1000);
      void prices.start();
    },
    stop() {
      offGrid?.();
      offGrid = undefined;
      clock.clearInterval(fallbackTimer);
      fallbackTimer = undefined;
      void prices.stop();
      flush();
    },
  };
}
