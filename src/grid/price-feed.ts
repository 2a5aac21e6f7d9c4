import type { Registry } from 'prom-client';
import type { TariffConfig } from '../config/sections/grid.js';
import type { Clock, TimerHandle } from '../model/clock.js';
import type { PriceSeriesFetcher } from '../ports/price-feed.js';
import { gridMetrics } from '../util/grid-metrics.js';
import type { Logger } from '../util/logger.js';
import type { GridSignalStore } from './signals.js';
import { type PricePoint, parsePriceSeries } from './tariff.js';

export interface PriceFeedDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Registry;
  /** Fetches the configured series (`cfg.url`; HTTP in production: adapters/price-feed). */
  readonly fetcher?: PriceSeriesFetcher;
  /** OpenADR PRICE events arrive through the signal store. */
  readonly store?: GridSignalStore;
  /** Last good series of the URL and MQTT sources, kept across restarts. */
  readonly cache?: {
    load(source: 'url' | 'mqtt'): PricePoint[];
    save(source: 'url' | 'mqtt', points: readonly PricePoint[]): void;
  };
}

export interface PriceFeed {
  /** Every known price point (URL, MQTT, OpenADR), oldest source first; the tariff lets the newest win. */
  series(): PricePoint[];
  /** Fetch the configured URL once; on failure the last good series stays. */
  refresh(): Promise<boolean>;
  /** MQTT payload with a JSON price series. */
  handleMqttMessage(payload: Buffer | string): boolean;
  readonly lastRefreshAt: () => number | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Dynamic prices from a JSON/CSV URL (through the fetcher), MQTT and
 * OpenADR PRICE events. The last good series of each source is kept in
 * memory, so a source that is down leaves its last prices in force until
 * they run out.
 */
export function createPriceFeed(cfg: TariffConfig['dynamic'], deps: PriceFeedDeps): PriceFeed {
  const { clock, log } = deps;
  const metrics = gridMetrics(deps.metrics);
  let urlSeries: PricePoint[] = deps.cache?.load('url') ?? [];
  let mqttSeries: PricePoint[] = deps.cache?.load('mqtt') ?? [];
  let lastRefreshAt: number | undefined;
  let timer: TimerHandle | undefined;

  const refresh = async (): Promise<boolean> => {
    const fetcher = deps.fetcher;
    if (!cfg.url || !fetcher) return false;
    try {
      const { points, errors } = parsePriceSeries(await fetcher.fetchText(), cfg.format, {
        source: 'url',
        perMwh: cfg.perMwh,
      });
      for (const e of errors) {
        metrics.rejected.inc({ source: 'price-url', field: e.split(':')[0] ?? e });
        log.warn({ err: e }, `price series row rejected: ${e}`);
      }
      if (points.length === 0) throw new Error('no usable prices');
      urlSeries = points;
      deps.cache?.save('url', points);
      lastRefreshAt = clock.now();
      metrics.requests.inc({ source: 'price-url', result: 'ok' });
      return true;
    } catch (err) {
      metrics.requests.inc({ source: 'price-url', result: 'error' });
      log.warn(
        { err: (err as Error).message, kept: urlSeries.length },
        'price series not refreshed; last good prices stay in force',
      );
      return false;
    }
  };

  return {
    series() {
      const adr: PricePoint[] = (deps.store?.prices() ?? []).map((s) => ({
        start: s.start,
        end: s.end,
        price: s.value,
        source: s.source,
      }));
      return [...urlSeries, ...mqttSeries, ...adr];
    },
    refresh,
    handleMqttMessage(payload) {
      const text = typeof payload === 'string' ? payload : payload.toString('utf8');
      const { points, errors } = parsePriceSeries(text, 'json', { source: 'mqtt', perMwh: cfg.perMwh });
      for (const e of errors) {
        metrics.rejected.inc({ source: 'price-mqtt', field: e.split(':')[0] ?? e });
        log.warn({ err: e }, `price message rejected: ${e}`);
      }
      if (points.length === 0) return false;
      mqttSeries = points;
      deps.cache?.save('mqtt', points);
      return true;
    },
    lastRefreshAt: () => lastRefreshAt,
    async start() {
      if (!cfg.url) return;
      if (!deps.fetcher) {
        log.warn({ url: cfg.url }, 'no price fetcher wired for grid.tariff.dynamic.url; the series is not fetched');
        return;
      }
      void refresh();
      timer = clock.setInterval(() => void refresh(), cfg.refreshMs);
    },
    async stop() {
      clock.clearInterval(timer);
      timer = undefined;
    },
  };
}
