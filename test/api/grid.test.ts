import { afterEach, describe, expect, it } from 'vitest';
import type { GridProvider } from '../../src/api/providers.js';
import { createGridService } from '../../src/grid/service.js';
import type { HubEvent } from '../../src/integration/events.js';
import { VirtualClock } from '../../src/model/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { ADMIN_KEY, type ApiFixture, apiFixture, auth, errorPaths, createKey } from './fixture.js';

describe('grid routes (simple DR signals, status, grid.event live events)', () => {
  let f: ApiFixture | undefined;
  let stopGrid: (() => void) | undefined;
  afterEach(async () => {
    await f?.close();
    stopGrid?.();
    f = undefined;
  });

  it('POST /api/v1/grid/limit applies a signal, GET /api/v1/grid shows it, partners get grid.event', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    let grid: ReturnType<typeof createGridService> | undefined;
    const provider: GridProvider = {
      events: (o) => grid?.events(o) ?? [],
      status: () => grid?.status(),
      applySimpleSignal: (b, s) => grid!.applySimpleSignal(b, s),
      onChange: (fn) => grid!.store.onChange(fn),
    };
    // The service needs the core's registry: build it after the core, as compose.ts does.
    const { testConfig } = await import('../helpers/core.js');
    const config = testConfig();
    const { createMetricsRegistry } = await import('../../src/util/metrics.js');
    grid = createGridService(config, {
      clock,
      log: silentLogger(),
      metrics: createMetricsRegistry({ defaultMetrics: false }),
    });
    grid.start();
    stopGrid = () => grid?.stop();
    f = await apiFixture({ clock, providers: { grid: provider } });
    const events: HubEvent[] = [];
    f.integration.hub.subscribe((e) => events.push(e));
    const { app } = f.api;

    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/grid/limit',
      headers: auth(ADMIN_KEY),
      payload: { importLimitW: 12_000, until: new Date(clock.now() + 600_000).toISOString(), id: 'dso-7' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ ok: true, eventId: expect.any(String) });

    const status = (await app.inject({ method: 'GET', url: '/api/v1/grid', headers: auth(ADMIN_KEY) })).json();
    expect(status.active[0]).toMatchObject({ kind: 'IMPORT_CAPACITY_LIMIT', value: 12_000, source: 'http' });
    expect(events.filter((e) => e.type === 'grid.event')).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ kind: 'IMPORT_CAPACITY_LIMIT', value: 12_000 }) }),
    ]);
    const list = (await app.inject({ method: 'GET', url: '/api/v1/grid/events', headers: auth(ADMIN_KEY) })).json();
    expect(list.length).toBeGreaterThan(0);

    const bad = await app.inject({
      method: 'POST',
      url: '/api/v1/grid/limit',
      headers: auth(ADMIN_KEY),
      payload: { importLimitW: -5, until: 'soon', extra: 1 },
    });
    expect(bad.statusCode).toBe(400);
    expect(errorPaths(bad)).toEqual(['body.extra', 'body.importLimitW', 'body.until']);

    const key = await createKey(app, 'ro', ['read']);
    const refused = await app.inject({
      method: 'POST',
      url: '/api/v1/grid/limit',
      headers: auth(key),
      payload: { importLimitW: 1, until: new Date(clock.now() + 60_000).toISOString() },
    });
    expect(refused.statusCode).toBe(403);
  });

  it('answers 503 problem+json without a grid service', async () => {
    f = await apiFixture();
    const res = await f.api.app.inject({ method: 'GET', url: '/api/v1/grid', headers: auth(ADMIN_KEY) });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
  });
});
