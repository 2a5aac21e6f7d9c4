import { afterEach, describe, expect, it } from 'vitest';
import type { SessionInfo } from '../../src/bus/events.js';
import { publishGridEvents } from '../../src/api/grid-events.js';
import { EventHub } from '../../src/integration/events.js';
import { reading } from '../../src/model/reading.js';
import { VirtualClock } from '../../src/model/clock.js';
import { ADMIN_KEY, type ApiFixture, apiFixture, auth, evseSpec } from './fixture.js';

/**
 * The API keeps its word: every answer here also passes through the fixture's OpenAPI check
 * (status documented, body valid against the served schema), so each `inject` doubles as a
 * contract test of the route it calls.
 */
describe('API contract', () => {
  let f: ApiFixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  it('documents and answers 404 for unknown resources, 413 and 415 with real problem types', async () => {
    f = await apiFixture();
    const app = f.api.app;
    const v = await app.inject({ method: 'GET', url: '/api/v1/vehicles/nope', headers: auth(ADMIN_KEY) });
    expect(v.statusCode).toBe(404);
    expect(v.json().type).toBe('https://gridkeeper.dev/problems/not-found');
    const big = await app.inject({
      method: 'PUT',
      url: '/api/v1/vehicles/v1',
      headers: { ...auth(ADMIN_KEY), 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 10), idTags: [] }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().type).toBe('https://gridkeeper.dev/problems/too-large');
    const xml = await app.inject({
      method: 'PUT',
      url: '/api/v1/vehicles/v1',
      headers: { ...auth(ADMIN_KEY), 'content-type': 'application/xml' },
      payload: '<vehicle/>',
    });
    expect(xml.statusCode).toBe(415);
    expect(xml.json().type).toBe('https://gridkeeper.dev/problems/unsupported-media-type');
    const doc = (await app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json();
    expect(Object.keys(doc.paths['/api/v1/vehicles/{id}'].get.responses)).toEqual(
      expect.arrayContaining(['200', '400', '401', '404', '429']),
    );
    expect(Object.keys(doc.paths['/api/v1/vehicles/{id}'].put.responses)).toEqual(
      expect.arrayContaining(['403', '413', '415']),
    );
  });

  it('throttles failed authentication per client: 429 with Retry-After, even for a right key', async () => {
    f = await apiFixture();
    const app = f.api.app;
    const from = (remoteAddress: string, key: string) =>
      app.inject({ method: 'GET', url: '/api/v1/sessions', headers: auth(key), remoteAddress });
    for (let i = 0; i < 10; i++) expect((await from('10.0.0.7', `wrong-${i}`)).statusCode).toBe(401);
    const limited = await from('10.0.0.7', 'wrong-10');
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(limited.json().type).toBe('https://gridkeeper.dev/problems/too-many-requests');
    // Guessing right during the lock-out tells nothing.
    expect((await from('10.0.0.7', ADMIN_KEY)).statusCode).toBe(429);
    // Other clients are not affected.
    expect((await from('10.0.0.8', ADMIN_KEY)).statusCode).toBe(200);
  });

  it('rounds W to integers and A to 0.1; a session shows the live meter energy; lastSeen follows readings', async () => {
    f = await apiFixture();
    const { core } = f;
    const app = f.api.app;
    const t0 = core.clock.now();
    core.bus.emit('grid', { powerW: reading(6899.999999, t0, 'grid-meter') });
    core.bus.emit('evse.spec', evseSpec('CP01'));
    core.bus.emit('device', { id: 'CP01', protocol: 'ocpp', kind: 'charger', online: true, lastSeen: t0 });
    const s: SessionInfo = {
      id: 's1',
      evseId: 'CP01/1',
      chargerId: 'CP01',
      connectorId: 1,
      idTag: 'TAG1',
      startedAt: t0,
      energyWh: 0,
      syncState: 'pending',
    };
    core.sessions.upsert(s);
    core.vclock?.advance(30_000);
    const t1 = core.clock.now();
    core.bus.emit('evse.live', {
      id: 'CP01/1',
      patch: {
        status: 'Charging',
        powerW: reading(7359.4999, t1, 'CP01'),
        sessionId: 's1',
        sessionEnergyWh: 18.4,
        lastSeen: t1,
      },
    });
    core.bus.emit('device', { id: 'building', protocol: 'mqtt', kind: 'load', online: true, lastSeen: t0 });
    core.bus.emit('load', { id: 'building', powerW: reading(5000, t1, 'building') });
    // A Modbus meter and an OPC UA BMS: each successful read is a reading with the device as its source.
    core.bus.emit('device', { id: 'grid-meter', protocol: 'modbus', kind: 'meter', online: true, lastSeen: t0 });
    core.bus.emit('grid', { powerW: reading(6899.999999, t1, 'grid-meter') });
    core.bus.emit('device', { id: 'bms', protocol: 'opcua', kind: 'battery', online: true, lastSeen: t0 });
    core.bus.emit('battery', { socPct: reading(50, t1, 'bms'), powerW: reading(0, t1, 'bms') });
    core.loop.runRound('manual');
    const state = (await app.inject({ method: 'GET', url: '/api/v1/state', headers: auth(ADMIN_KEY) })).json();
    expect(state.grid.powerW).toBe(6900);
    const e = state.evses[0];
    expect(e.powerW).toBe(7359);
    expect(Number.isInteger(e.setpointW)).toBe(true);
    expect(Math.round(e.currentA * 10)).toBeCloseTo(e.currentA * 10, 9);
    expect(e.sessionEnergyWh).toBe(18);
    for (const id of ['CP01', 'building', 'grid-meter', 'bms']) {
      expect(state.devices.find((d: { id: string }) => d.id === id).lastSeen, id).toBe(new Date(t1).toISOString());
    }
    const session = (await app.inject({ method: 'GET', url: '/api/v1/sessions/s1', headers: auth(ADMIN_KEY) })).json();
    expect(session.energyWh).toBe(18);
    // A set-point as the dispatcher writes it, arithmetic noise and all.
    core.setpointAudit.record(
      t1,
      { evseId: 'CP01/1', currentA: 9.99999, powerW: 6899.999999, phases: 3, reasons: [] },
      'ok',
    );
    const sp = await app.inject({ method: 'GET', url: '/api/v1/setpoints', headers: auth(ADMIN_KEY) });
    expect(sp.statusCode).toBe(200);
    expect(sp.json().written).toEqual([expect.objectContaining({ evseId: 'CP01/1', powerW: 6900, currentA: 10 })]);
  });

  it('reports honour Accept: text/csv, ?format overrides it, and 406 for what it cannot give', async () => {
    f = await apiFixture();
    const app = f.api.app;
    const get = (accept: string | undefined, query = '') =>
      app.inject({
        method: 'GET',
        url: `/api/v1/reports/daily${query}`,
        headers: { ...auth(ADMIN_KEY), ...(accept ? { accept } : {}) },
      });
    const csv = await get('text/csv');
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.body.split('\n')[0]).toMatch(/^day,evEnergyWh,/);
    expect((await get('text/csv;q=0.5, application/json')).headers['content-type']).toMatch(/^application\/json/);
    expect((await get(undefined)).headers['content-type']).toMatch(/^application\/json/);
    expect((await get('text/csv', '?format=json')).headers['content-type']).toMatch(/^application\/json/);
    const no = await get('application/pdf');
    expect(no.statusCode).toBe(406);
    expect(no.json().type).toBe('https://gridkeeper.dev/problems/not-acceptable');
  });

  it('serves a favicon', async () => {
    f = await apiFixture();
    const res = await f.api.app.inject({ method: 'GET', url: '/favicon.ico' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/x-icon');
    expect(res.rawPayload.subarray(0, 4)).toEqual(Buffer.from([0, 0, 1, 0]));
  });
});

describe('repeated identical events are suppressed', () => {
  it('a grid event with many slots under one id is published once per slot, then only on change', () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const hub = new EventHub({ clock, retain: 1000 });
    const published: unknown[] = [];
    hub.subscribe((e) => published.push(e.data));
    const slots = Array.from({ length: 24 }, (_, h) => ({
      id: 'event-2',
      source: 'openadr',
      kind: 'PRICE',
      status: 'pending',
      start: clock.now() + h * 3_600_000,
      end: clock.now() + (h + 1) * 3_600_000,
      value: h < 12 ? 0.26 : 0.42,
      unit: 'per kWh',
    }));
    let events = slots.slice(0, 0);
    let notify = () => {};
    publishGridEvents(
      { events: () => events as never },
      (l) => {
        notify = l;
        return () => {};
      },
      hub,
      clock,
    );
    events = slots;
    for (let i = 0; i < 50; i++) notify();
    expect(published).toHaveLength(24);
    events = slots.map((s, h) => (h === 3 ? { ...s, value: 0.5 } : s));
    notify();
    expect(published).toHaveLength(25);
  });

  it('session updates that only tick the duration, and repeated set-points, are not sent again', async () => {
    const f = await apiFixture();
    try {
      const seen: string[] = [];
      f.integration.hub.subscribe((e) => seen.push(e.type));
      const s: SessionInfo = {
        id: 's9',
        evseId: 'CP01/1',
        chargerId: 'CP01',
        connectorId: 1,
        startedAt: f.core.clock.now(),
        energyWh: 5,
        syncState: 'pending',
      };
      f.core.bus.emit('session.started', s);
      for (let i = 0; i < 5; i++) {
        f.core.vclock?.advance(1000);
        f.core.bus.emit('session.updated', s);
      }
      f.core.bus.emit('session.updated', { ...s, energyWh: 9 });
      expect(seen.filter((t) => t.startsWith('session.'))).toEqual(['session.started', 'session.updated']);
    } finally {
      await f.close();
    }
  });
});
