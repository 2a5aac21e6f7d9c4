import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpPriceFetcher } from '../../adapters/price-feed/index.js';
import { decide as planningDecide, plan } from '../../policies/tariff-planning.js';
import { TariffSchema } from '../../src/config/sections/grid.js';
import { createPriceFeed } from '../../src/grid/price-feed.js';
import { GridSignalStore } from '../../src/grid/signals.js';
import { compileCron, createTariff, parsePriceSeries, sessionCost } from '../../src/grid/tariff.js';
import { VirtualClock } from '../../src/model/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { createMetricsRegistry } from '../../src/util/metrics.js';
import { testConfig } from '../helpers/core.js';
import { evse, gridConfig, snapshot } from './helpers.js';

const H = 3_600_000;
const MON = Date.UTC(2026, 0, 5); // a Monday

describe('cron time-of-use', () => {
  it('matches hours and weekdays in the configured time zone', () => {
    const peak = compileCron('* 17-20 * * 1-5', 'Europe/Berlin');
    expect(peak(MON + 16 * H + 30 * 60_000)).toBe(true); // 17:30 Berlin
    expect(peak(MON + 15 * H + 59 * 60_000)).toBe(false); // 16:59 Berlin
    expect(peak(MON + 5 * 24 * H + 16 * H)).toBe(false); // Saturday
  });

  it('supports L and n-th weekday', () => {
    expect(compileCron('* * L * *')(Date.UTC(2026, 1, 28, 12))).toBe(true);
    expect(compileCron('* * L * *')(Date.UTC(2026, 1, 27, 12))).toBe(false);
    expect(compileCron('* * * * 1#2')(Date.UTC(2026, 0, 12, 3))).toBe(true); // 2nd Monday
    expect(compileCron('* * * * 1#2')(MON)).toBe(false);
  });

  it('refuses bad expressions in config with the path', () => {
    const r = TariffSchema.safeParse({
      components: [{ name: 'e', periods: [{ cron: '* 25 * * *', pricePerKwh: 1 }] }],
    });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['components', 0, 'periods', 0, 'cron']);
    expect(r.error?.issues[0]?.message).toContain('hour');
    expect(TariffSchema.safeParse({ timezone: 'Mars/Olympus' }).success).toBe(false);
  });
});

const tariffCfg = TariffSchema.parse({
  currency: 'EUR',
  timezone: 'UTC',
  vatPct: 19,
  components: [
    {
      name: 'energy',
      kind: 'energy',
      dynamic: true,
      periods: [{ name: 'night', cron: '* 0-5 * * *', pricePerKwh: 0.1 }],
      defaultPerKwh: 0.2,
    },
    {
      name: 'grid fee',
      kind: 'gridFee',
      periods: [{ name: 'peak', cron: '* 17-19 * * 1-5', pricePerKwh: 0.15 }],
      defaultPerKwh: 0.05,
    },
    { name: 'levy', kind: 'levy', defaultPerKwh: 0.02 },
    { name: 'feed-in', direction: 'export', defaultPerKwh: 0.08 },
  ],
});

describe('composed tariff', () => {
  it('adds energy, grid fee, levies and VAT for import; export on its own', () => {
    const t = createTariff(tariffCfg);
    const night = t.priceAt(MON + 2 * H);
    expect(night.importPerKwh).toBeCloseTo((0.1 + 0.05 + 0.02) * 1.19, 6);
    expect(night.exportPerKwh).toBe(0.08);
    expect(night.components.find((c) => c.name === 'energy')?.from).toBe('period:night');
    const peak = t.priceAt(MON + 18 * H);
    expect(peak.importPerKwh).toBeCloseTo((0.2 + 0.15 + 0.02) * 1.19, 6);
    expect(peak.dynamicMissing).toBe(true);
  });

  it('uses the dynamic series where it covers the time, newest source first', () => {
    const t = createTariff(tariffCfg, () => [
      { start: MON, end: MON + 24 * H, price: 0.3, source: 'url' },
      { start: MON + 18 * H, end: MON + 19 * H, price: -0.05, source: 'openadr' },
    ]);
    expect(t.priceAt(MON + 2 * H).components[0]).toMatchObject({ perKwh: 0.3, from: 'dynamic:url' });
    expect(t.priceAt(MON + 18 * H).components[0]).toMatchObject({ perKwh: -0.05, from: 'dynamic:openadr' });
    expect(t.series(MON, MON + 4 * H, H)).toHaveLength(4);
  });
});

describe('session cost', () => {
  it('prices each meter increment with the tariff in force', () => {
    const t = createTariff(tariffCfg);
    // 10 kWh in the night period (05:00-06:00), 10 kWh after it (06:00-07:00).
    const r = sessionCost(t, [
      { ts: MON + 5 * H, energyWh: 0 },
      { ts: MON + 6 * H, energyWh: 10_000 },
      { ts: MON + 7 * H, energyWh: 20_000 },
    ]);
    expect(r.energyKwh).toBe(20);
    expect(r.cost).toBeCloseTo(10 * (0.1 + 0.05 + 0.02) * 1.19 + 10 * (0.2 + 0.05 + 0.02) * 1.19, 4);
    expect(r.currency).toBe('EUR');
  });
});

describe('price series parsing', () => {
  it('reads JSON and CSV, ends at the next start, converts per MWh', () => {
    const j = parsePriceSeries(
      JSON.stringify([
        { start: '2026-01-05T00:00:00Z', price: 100 },
        { start: '2026-01-05T01:00:00Z', price: 50 },
      ]),
      'json',
      { source: 'url', perMwh: true },
    );
    expect(j.errors).toEqual([]);
    expect(j.points[0]).toMatchObject({ start: MON, end: MON + H, price: 0.1 });
    const c = parsePriceSeries('start,price\n2026-01-05T00:00:00Z,0.25\n2026-01-05T01:00:00Z,x\n', 'csv', {
      source: 'url',
    });
    expect(c.points).toHaveLength(1);
    expect(c.errors[0]).toContain('line 3.price');
  });
});

describe('price feed', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  it('fetches a URL, keeps the last good prices when the source fails, and merges OpenADR PRICE', async () => {
    let mode: 'ok' | 'down' = 'ok';
    server = createServer((_req, res) => {
      if (mode === 'down') return res.writeHead(503).end();
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify([{ start: MON, end: MON + H, price: 0.3 }]));
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prices.json`;
    const clock = new VirtualClock(MON);
    const store = new GridSignalStore({
      clock,
      config: gridConfig(),
      siteLimitW: 1,
      failsafeLimitW: 1,
      staleAfterMs: 1,
    });
    const feed = createPriceFeed(TariffSchema.parse({ dynamic: { url } }).dynamic, {
      clock,
      log: silentLogger(),
      metrics: createMetricsRegistry({ defaultMetrics: false }),
      store,
      fetcher: createHttpPriceFetcher({ url }),
    });
    expect(await feed.refresh()).toBe(true);
    mode = 'down';
    expect(await feed.refresh()).toBe(false);
    expect(feed.series()).toHaveLength(1);
    store.replace('openadr', [
      {
        kind: 'price',
        value: 0.05,
        source: 'openadr',
        eventId: 'p',
        start: MON + H,
        end: MON + 2 * H,
        receivedAt: MON,
      },
    ]);
    const t = createTariff(tariffCfg, feed.series);
    expect(t.priceAt(MON + 30 * 60_000).components[0]?.perKwh).toBe(0.3);
    expect(t.priceAt(MON + 90 * 60_000).components[0]?.perKwh).toBe(0.05);
    expect(feed.handleMqttMessage('not json')).toBe(false);
    expect(feed.handleMqttMessage(JSON.stringify([{ start: MON + 2 * H, price: 0.5 }]))).toBe(true);
    expect(t.priceAt(MON + 2 * H + 1).components[0]?.perKwh).toBe(0.5);
  });
});

describe('policies/tariff-planning', () => {
  const prices = [0.3, 0.3, 0.1, 0.1, 0.2, 0.3].map((p, i) => ({
    start: MON + i * H,
    end: MON + (i + 1) * H,
    importPerKwh: p,
  }));

  it('plans into the cheapest hours before departure', () => {
    const [p] = plan(
      {
        prices,
        vehicles: [{ evseId: 'A/1', departureAt: MON + 6 * H, neededWh: 20_000, maxW: 11_000 }],
        chargingBudgetW: 50_000,
        currency: 'EUR',
      },
      MON,
    );
    expect(p?.feasible).toBe(true);
    expect(p?.slots.map((s) => (s.start - MON) / H)).toEqual([2, 3]);
  });

  it('plans jointly: two cars never overbook a cheap hour', () => {
    const plans = plan(
      {
        prices,
        vehicles: [
          { evseId: 'A/1', departureAt: MON + 6 * H, neededWh: 22_000, maxW: 11_000 },
          { evseId: 'B/1', departureAt: MON + 6 * H, neededWh: 22_000, maxW: 11_000 },
        ],
        chargingBudgetW: 11_000,
        currency: 'EUR',
      },
      MON,
    );
    for (let i = 0; i < 6; i++) {
      const used = plans
        .flatMap((p) => p.slots)
        .filter((s) => s.start === MON + i * H)
        .reduce((s, x) => s + x.powerW, 0);
      expect(used).toBeLessThanOrEqual(11_000 + 1e-6);
    }
    expect(plans.every((p) => p.feasible)).toBe(true);
  });

  it('holds a car in an expensive hour and lets it charge in a cheap one, naming the price', () => {
    const snap = snapshot(MON, 5000, [evse('A/1', 0, MON)]);
    const input = {
      prices,
      vehicles: [{ evseId: 'A/1', departureAt: MON + 6 * H, neededWh: 10_000 }],
      chargingBudgetW: 50_000,
      currency: 'EUR',
    };
    const d = planningDecide(snap, input, MON);
    expect(d.limits[0]).toMatchObject({ scope: 'evse:A/1', maxImportW: 0 });
    expect(d.limits[0]?.reason.text).toContain('02:00Z');
    const later = planningDecide(snapshot(MON + 2 * H, 5000, [evse('A/1', 0, MON + 2 * H)]), input, MON + 2 * H);
    expect(later.requests[0]).toMatchObject({ target: 'evse:A/1', powerW: 10_000 });
    expect(later.requests[0]?.reason.tier).toBe('optimisation');
  });

  it('plans into green hours when CO2 has a price', () => {
    const green = prices.map((p, i) => ({ ...p, co2GPerKwh: i === 4 ? 50 : 500 }));
    const input = {
      prices: green,
      vehicles: [{ evseId: 'A/1', departureAt: MON + 6 * H, neededWh: 10_000, maxW: 11_000 }],
      chargingBudgetW: 50_000,
      currency: 'EUR',
    };
    expect(plan(input, MON)[0]?.slots.map((s) => (s.start - MON) / H)).toEqual([2]);
    // 0.45 kg less CO2 per kWh at 0.5 EUR/kg outweighs 0.1 EUR/kWh.
    expect(plan({ ...input, co2PricePerKg: 0.5 }, MON)[0]?.slots.map((s) => (s.start - MON) / H)).toEqual([4]);
  });

  it('leaves an infeasible deadline to the fleet tier', () => {
    const snap = snapshot(MON, 5000, [evse('A/1', 0, MON)]);
    const d = planningDecide(
      snap,
      {
        prices,
        vehicles: [{ evseId: 'A/1', departureAt: MON + H, neededWh: 50_000 }],
        chargingBudgetW: 50_000,
        currency: 'EUR',
      },
      MON,
    );
    expect(d.limits).toEqual([]);
  });

  it('config section accepts a tariff', () => {
    expect(
      testConfig({ grid: { tariff: { components: [{ name: 'e', defaultPerKwh: 0.3 }] } } }).grid.tariff.components,
    ).toHaveLength(1);
  });
});
