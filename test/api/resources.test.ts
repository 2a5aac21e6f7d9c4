import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { GridProvider } from '../../src/api/providers.js';
import { reading } from '../../src/model/reading.js';
import { ADMIN_KEY, type ApiFixture, apiFixture, auth, evseSpec, errorPaths } from './fixture.js';

const H = auth(ADMIN_KEY);
const T0 = Date.UTC(2026, 0, 1);

describe('REST resources', () => {
  let f: ApiFixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  it('site-limit override: set with expiry, visible, expires on the clock; bad bodies list every error', async () => {
    f = await apiFixture();
    const { app } = f.api;
    const set = await app.inject({
      method: 'PUT',
      url: '/api/v1/site/limit-override',
      headers: H,
      payload: { limitW: 11_000, durationS: 600, reason: 'DSO request by phone' },
    });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toMatchObject({ active: true, limitW: 11_000, until: new Date(T0 + 600_000).toISOString() });
    expect(f.integration.siteOverride.active()?.limitW).toBe(11_000);
    const site = (await app.inject({ method: 'GET', url: '/api/v1/site', headers: H })).json();
    expect(site.override).toMatchObject({ active: true, setBy: 'GRIDKEEPER_ADMIN_KEY' });
    const state = (await app.inject({ method: 'GET', url: '/api/v1/state', headers: H })).json();
    expect(state.site.override).toEqual({
      limitW: 11_000,
      until: new Date(T0 + 600_000).toISOString(),
      reason: 'DSO request by phone',
    });
    // The limit in force is the override (below the contract), and says so.
    expect(state.site.limitW).toBe(11_000);
    expect(state.site.reasons[0]).toMatchObject({ policy: 'site-override', tier: 'contract' });
    expect(site.limitW).toBe(11_000);
    expect(site.limitReasons[0]).toMatchObject({ policy: 'site-override' });

    f.core.vclock!.advance(600_001);
    const after = (await app.inject({ method: 'GET', url: '/api/v1/state', headers: H })).json();
    expect(after.site.limitW).toBe(f.core.config.site.limitW);
    expect(after.site.reasons.some((r: { policy: string }) => r.policy === 'site-override')).toBe(false);
    expect(f.integration.siteOverride.active()).toBeUndefined();
    expect((await app.inject({ method: 'GET', url: '/api/v1/site/limit-override', headers: H })).json().active).toBe(
      false,
    );

    const bad = await app.inject({
      method: 'PUT',
      url: '/api/v1/site/limit-override',
      headers: H,
      payload: { limitW: -1, durationS: 60, until: '2026-01-02T00:00:00Z' },
    });
    expect(bad.statusCode).toBe(400);
    expect(errorPaths(bad)).toEqual(['body.durationS', 'body.limitW']);
  });

  it('vehicles and needs: set through the API, read by policies via needs(now)', async () => {
    f = await apiFixture({ overrides: { fleet: { vehicles: [{ id: 'bus-9', idTag: 'TAG9', departure: '06:30' }] } } });
    expect((await f.api.app.inject({ method: 'GET', url: '/api/v1/vehicles/bus-9', headers: H })).json()).toMatchObject(
      {
        id: 'bus-9',
        idTags: ['TAG9'],
      },
    );
    const { app } = f.api;
    const put = await app.inject({
      method: 'PUT',
      url: '/api/v1/vehicles/van-7',
      headers: H,
      payload: { name: 'Van 7', idTags: ['TAG7'], batteryCapacityWh: 75_000 },
    });
    expect(put.statusCode).toBe(200);
    const needs = await app.inject({
      method: 'PUT',
      url: '/api/v1/vehicles/van-7/needs',
      headers: H,
      payload: { departureAt: '2026-01-01T06:00:00Z', energyNeededWh: 40_000 },
    });
    expect(needs.statusCode).toBe(200);
    expect(needs.json()).toMatchObject({
      id: 'van-7',
      needs: { departureAt: '2026-01-01T06:00:00.000Z', energyNeededWh: 40_000 },
    });
    expect(f.integration.vehicles.needs(T0)).toEqual([
      expect.objectContaining({
        vehicleId: 'van-7',
        idTags: ['TAG7'],
        energyNeededWh: 40_000,
        departureAt: T0 + 6 * 3_600_000,
      }),
    ]);
    expect(f.integration.vehicles.needs(T0 + 7 * 3_600_000)).toEqual([]);
    const bad = await app.inject({
      method: 'PUT',
      url: '/api/v1/vehicles/van-7/needs',
      headers: H,
      payload: { departureAt: 'tomorrow' },
    });
    expect(bad.statusCode).toBe(400);
    // Field errors first; the cross-field rule (energy or SoC) is checked once the fields are valid.
    expect(errorPaths(bad)).toEqual(['body.departureAt']);
    const noEnergy = await app.inject({
      method: 'PUT',
      url: '/api/v1/vehicles/van-7/needs',
      headers: H,
      payload: { departureAt: T0 + 1000 },
    });
    expect(errorPaths(noEnergy)).toEqual(['body.energyNeededWh']);
  });

  it('sessions: filters by time, charger, idTag and vehicle, paged', async () => {
    f = await apiFixture();
    for (let i = 0; i < 25; i++) {
      f.core.sessions.upsert({
        id: `s${String(i).padStart(2, '0')}`,
        evseId: `CP0${i % 3}/1`,
        chargerId: `CP0${i % 3}`,
        connectorId: 1,
        idTag: i % 2 ? 'ODD' : 'EVEN',
        startedAt: T0 + i * 3_600_000,
        stoppedAt: T0 + i * 3_600_000 + 1_800_000,
        energyWh: 1000 * i,
        syncState: 'synced',
      });
    }
    f.integration.vehicles.upsert({ id: 'bus-1', idTags: ['ODD'] });
    const { app } = f.api;
    const page1 = (await app.inject({ method: 'GET', url: '/api/v1/sessions?limit=10', headers: H })).json();
    expect(page1.items).toHaveLength(10);
    expect(page1.items[0].sessionId).toBe('s24');
    expect(page1.nextOffset).toBe(10);
    const page3 = (await app.inject({ method: 'GET', url: '/api/v1/sessions?limit=10&offset=20', headers: H })).json();
    expect(page3.items).toHaveLength(5);
    expect(page3.nextOffset).toBeNull();

    const cp1 = (await app.inject({ method: 'GET', url: '/api/v1/sessions?chargerId=CP01', headers: H })).json();
    expect(cp1.items.every((s: { chargerId: string }) => s.chargerId === 'CP01')).toBe(true);
    expect(cp1.items).toHaveLength(8);
    const range = (
      await app.inject({
        method: 'GET',
        url: `/api/v1/sessions?from=${new Date(T0 + 10 * 3_600_000).toISOString()}&to=${T0 + 12 * 3_600_000}`,
        headers: H,
      })
    ).json();
    expect(range.items.map((s: { sessionId: string }) => s.sessionId)).toEqual(['s11', 's10']);
    const byVehicle = (
      await app.inject({ method: 'GET', url: '/api/v1/sessions?vehicleId=bus-1&limit=5', headers: H })
    ).json();
    expect(byVehicle.items.map((s: { sessionId: string }) => s.sessionId)).toEqual(['s23', 's21', 's19', 's17', 's15']);
    expect(byVehicle.items[0]).toMatchObject({ vehicleId: 'bus-1', idTag: 'ODD', energyWh: 23_000, durationS: 1800 });
    expect((await app.inject({ method: 'GET', url: '/api/v1/sessions/s03', headers: H })).json().energyWh).toBe(3000);
    expect((await app.inject({ method: 'GET', url: '/api/v1/sessions/nope', headers: H })).statusCode).toBe(404);
  });

  it('history, reports (JSON and CSV), alerts and grid events', async () => {
    const grid: GridProvider = {
      events: () => [
        {
          id: 'dr-1',
          source: 'openadr',
          kind: 'IMPORT_CAPACITY_LIMIT',
          start: T0,
          end: T0 + 3_600_000,
          value: 15_000,
          unit: 'W',
          status: 'active',
        },
      ],
    };
    f = await apiFixture({ providers: { grid } });
    const { app } = f.api;
    // One hour of telemetry: 10 kW EV charging, 4 kW PV, 6 kW+base from the grid.
    for (let t = 0; t < 3600; t += 5) {
      f.core.telemetry.append(T0 + t * 1000, {
        'grid.powerW': t === 1800 ? 20_000 : 8_000,
        'pv.powerW': 4_000,
        'battery.powerW': 0,
        'evses.powerW': 10_000,
      });
    }
    const hist = await app.inject({
      method: 'GET',
      url: `/api/v1/history?series=grid.powerW,pv.powerW&from=${T0}&to=${T0 + 3_600_000}&step=600000`,
      headers: H,
    });
    expect(hist.statusCode).toBe(200);
    expect(hist.json().series['pv.powerW']).toHaveLength(6);
    expect(hist.json().series['pv.powerW'][0]).toEqual([T0, 4000]);
    const badHist = await app.inject({ method: 'GET', url: `/api/v1/history?from=${T0 + 10}&to=${T0}`, headers: H });
    expect(badHist.statusCode).toBe(400);
    expect(errorPaths(badHist)).toEqual(['querystring.series']);
    const backwards = await app.inject({
      method: 'GET',
      url: `/api/v1/history?series=pv.powerW&from=${T0 + 10}&to=${T0}`,
      headers: H,
    });
    expect(errorPaths(backwards)).toEqual(['querystring.to']);

    const daily = await app.inject({
      method: 'GET',
      url: `/api/v1/reports/daily?from=${T0}&to=${T0 + 86_400_000}`,
      headers: H,
    });
    expect(daily.statusCode).toBe(200);
    const [d] = daily.json();
    expect(d.day).toBe('2026-01-01');
    expect(d.evEnergyWh).toBeCloseTo(10_000, -1);
    expect(d.pvShare).toBeCloseTo(4 / 12, 2);
    expect(d.peakImportW).toBe(20_000);
    expect(d.co2Kg).toBeGreaterThan(0);
    const csv = await app.inject({
      method: 'GET',
      url: `/api/v1/reports/daily?from=${T0}&to=${T0 + 86_400_000}&format=csv`,
      headers: H,
    });
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.body.split('\n')[0]).toMatch(/^day,evEnergyWh,/);
    expect(csv.body.split('\n')[1]).toMatch(/^2026-01-01,/);

    f.core.bus.emit('evse.spec', evseSpec('CP01'));
    f.core.bus.emit('evse.live', { id: 'CP01/1', patch: { status: 'Faulted', powerW: reading(0, T0, 'x') } });
    const alerts = (await app.inject({ method: 'GET', url: '/api/v1/alerts', headers: H })).json();
    expect(alerts).toEqual([
      expect.objectContaining({ kind: 'charger.faulted', subject: 'CP01/1', severity: 'critical' }),
    ]);
    f.core.bus.emit('evse.live', { id: 'CP01/1', patch: { status: 'Available' } });
    expect((await app.inject({ method: 'GET', url: '/api/v1/alerts', headers: H })).json()).toEqual([]);
    const history = (await app.inject({ method: 'GET', url: '/api/v1/alerts?active=false', headers: H })).json();
    expect(history[0]).toMatchObject({ kind: 'charger.faulted', clearedAt: expect.any(String) });

    const dr = (await app.inject({ method: 'GET', url: '/api/v1/grid/events', headers: H })).json();
    expect(dr).toEqual([
      expect.objectContaining({ id: 'dr-1', kind: 'IMPORT_CAPACITY_LIMIT', value: 15_000, status: 'active' }),
    ]);
  });

  it('uptime per EVSE from its status history', async () => {
    f = await apiFixture();
    const { core } = f;
    core.bus.emit('evse.spec', evseSpec('CP01'));
    core.bus.emit('evse.live', { id: 'CP01/1', patch: { status: 'Available' } });
    core.vclock!.advance(18 * 3_600_000);
    core.bus.emit('evse.live', { id: 'CP01/1', patch: { status: 'Faulted' } });
    core.vclock!.advance(6 * 3_600_000);
    const res = (await f.api.app.inject({ method: 'GET', url: '/api/v1/uptime', headers: H })).json();
    expect(res.evses).toEqual([{ evseId: 'CP01/1', uptime24hPct: 75, uptime30dPct: 75 }]);
  });

  it('openapi.json is OpenAPI 3.1 and documents every route the server answers', async () => {
    f = await apiFixture();
    const res = await f.api.app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBe('gridkeeper API');
    const toOpenApi = (url: string) => url.replace(/:([A-Za-z]+)/g, '{$1}');
    const missing: string[] = [];
    for (const r of f.api.routes()) {
      if (!r.documented || r.method === 'HEAD') continue;
      const op = doc.paths[toOpenApi(r.url)]?.[r.method.toLowerCase()];
      if (!op) missing.push(`${r.method} ${r.url}`);
      else expect(op.responses, `${r.method} ${r.url}`).toBeDefined();
    }
    expect(missing).toEqual([]);
    // Every operation says how it succeeds and which 4xx it can answer; problems have real type URIs.
    const gaps: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { responses: object }>>)) {
      for (const [method, op] of Object.entries(ops)) {
        const codes = Object.keys(op.responses);
        const need = ['401', '429', ...(path.includes('{') ? ['400', '404'] : [])];
        if (!codes.some((c) => /^[12]\d\d$/.test(c))) gaps.push(`${method} ${path}: no success answer`);
        for (const c of need) if (!codes.includes(c)) gaps.push(`${method} ${path}: no ${c}`);
      }
    }
    expect(gaps).toEqual([]);
    const problems = (await f.api.app.inject({ method: 'GET', url: '/api/v1/problems' })).json();
    for (const p of Object.values(problems as Record<string, { type: string }>)) {
      expect(p.type).toMatch(/^https:\/\/gridkeeper\.dev\/problems\/[a-z-]+$/);
    }
    // The interface points are all there.
    for (const p of [
      '/api/v1/keys',
      '/api/v1/keys/{id}',
      '/api/v1/webhooks',
      '/api/v1/webhooks/{id}/redeliver',
      '/api/v1/sessions/remote-start',
      '/api/v1/sessions/{id}/remote-stop',
      '/api/v1/vehicles/{id}/needs',
      '/api/v1/events',
      '/api/v1/history',
    ]) {
      expect(doc.paths[p], p).toBeDefined();
    }
    // Validation schemas made it into the document.
    const body = doc.paths['/api/v1/webhooks'].post.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(['url', 'events']);
    expect(body.additionalProperties).toBe(false);
    // Structural rules of OpenAPI 3.1 that tools trip over, and every schema compiles as JSON Schema 2020-12.
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    const methods = ['get', 'put', 'post', 'delete', 'patch'];
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Record<string, unknown>>>)) {
      expect(path.startsWith('/')).toBe(true);
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const m of methods) {
        const op = item[m] as
          | {
              parameters?: Array<{ name: string; in: string; required?: boolean; schema?: unknown }>;
              responses: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
              requestBody?: { content: Record<string, { schema: unknown }> };
            }
          | undefined;
        if (!op) continue;
        const pathParams = (op.parameters ?? []).filter((p) => p.in === 'path');
        expect(pathParams.map((p) => p.name).sort(), `${m} ${path}`).toEqual([...templated].sort());
        for (const p of pathParams) expect(p.required, `${m} ${path} ${p.name}`).toBe(true);
        for (const p of op.parameters ?? []) if (p.schema) ajv.compile(p.schema as object);
        expect(Object.keys(op.responses).length, `${m} ${path}`).toBeGreaterThan(0);
        for (const r of Object.values(op.responses)) {
          expect(typeof r.description).toBe('string');
          for (const c of Object.values(r.content ?? {})) if (c.schema) ajv.compile(c.schema as object);
        }
        for (const c of Object.values(op.requestBody?.content ?? {})) ajv.compile(c.schema as object);
      }
    }
    const docs = await f.api.app.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(docs.statusCode);
  });
});
