import { afterEach, describe, expect, it } from 'vitest';
import { createApiServer } from '../../src/api/server.js';
import { reading } from '../../src/model/reading.js';
import { testCore } from '../helpers/core.js';
import { evseSpec } from '../helpers/evse.js';

const spec = (chargerId: string) => evseSpec(`${chargerId}/1`);

describe('API server', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(anonymousRead = true) {
    const core = testCore({ api: { port: 0, anonymousRead } });
    core.start();
    cleanups.push(() => core.stop());
    const api = await createApiServer(core);
    cleanups.push(() => api.stop());
    return { core, api };
  }

  it('healthz is 503 before start and 200 after', async () => {
    const { api } = await setup();
    const before = await api.app.inject({ method: 'GET', url: '/healthz' });
    expect(before.statusCode).toBe(503);
    await api.start();
    const after = await api.app.inject({ method: 'GET', url: '/healthz' });
    expect(after.statusCode).toBe(200);
    expect(after.json().status).toBe('ok');
  });

  it('state shows grid, PV, site limit and every EVSE with set-point and reason', async () => {
    const { core, api } = await setup();
    const now = core.clock.now();
    core.bus.emit('grid', { powerW: reading(12_000, now, 'meter') });
    core.bus.emit('pv', { powerW: reading(3_000, now, 'pv') });
    core.bus.emit('battery', { socPct: reading(55, now, 'bms'), powerW: reading(-1000, now, 'bms') });
    for (const id of ['CP01', 'CP02']) {
      core.bus.emit('evse.spec', spec(id));
      core.bus.emit('evse.live', {
        id: `${id}/1`,
        patch: { status: 'Charging', powerW: reading(7_000, now, id), sessionId: `s-${id}` },
      });
    }
    core.bus.emit('device', { id: 'meter', protocol: 'modbus', kind: 'meter', online: true, lastSeen: now });
    core.loop.runRound('manual');

    const res = await api.app.inject({ method: 'GET', url: '/api/v1/state' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.ts).toBe(new Date(now).toISOString());
    expect(body.grid.powerW).toBe(12_000);
    expect(body.pv.powerW).toBe(3_000);
    expect(body.battery).toEqual({ socPct: 55, powerW: -1000 });
    expect(body.site.failsafe).toBe(false);
    expect(body.site.limitW).toBeLessThanOrEqual(22_000);
    // One round: nothing measured yet, the configured margin applies.
    expect(body.site.margin).toMatchObject({ measuredW: null, why: 'configured margin (not measured yet)' });
    expect(body.evses).toHaveLength(2);
    for (const e of body.evses) {
      expect(e.status).toBe('Charging');
      expect(e.powerW).toBe(7_000);
      expect(typeof e.setpointW).toBe('number');
      expect(typeof e.currentA).toBe('number');
      expect(e.reason).toMatch(/\//);
      expect(e.reasons.length).toBeGreaterThan(0);
      // Read with the meter's sample: the reading is the draw the balance counts.
      expect(e.drawEstimate).toEqual({
        w: 7_000,
        uncertaintyW: 0,
        source: 'measured',
        delayMs: null,
        vehiclePhases: null,
      });
    }
    expect(body.devices).toEqual([
      expect.objectContaining({ id: 'meter', protocol: 'modbus', online: true, lastSeen: new Date(now).toISOString() }),
    ]);
  });

  it('reports the failsafe when the grid meter is stale', async () => {
    const { core, api } = await setup();
    core.loop.runRound('manual');
    const body = (await api.app.inject({ method: 'GET', url: '/api/v1/state' })).json();
    expect(body.site.failsafe).toBe(true);
    expect(body.grid.stale).toBe(true);
  });

  it('serves Prometheus metrics from the gateway registry', async () => {
    const { api } = await setup();
    await api.app.inject({ method: 'GET', url: '/api/v1/state' });
    const res = await api.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.body).toContain('gridkeeper_control_round_seconds');
    expect(res.body).toContain('gridkeeper_api_request_seconds');
  });

  it('unknown routes are 404 problem+json', async () => {
    const { api } = await setup();
    const res = await api.app.inject({ method: 'GET', url: '/api/v1/nope?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 404, title: 'Not Found', instance: '/api/v1/nope' });
  });

  it('refuses anonymous reads unless the config allows them', async () => {
    const { api } = await setup(false);
    const res = await api.app.inject({ method: 'GET', url: '/api/v1/state' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await api.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(503);
  });

  it('answers over a real socket on the configured host', async () => {
    const { api } = await setup();
    await api.start();
    expect(api.url()).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${api.url()}/api/v1/state`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { evses: unknown[] };
    expect(body.evses).toEqual([]);
    const health = await fetch(`${api.url()}/healthz`);
    expect(health.status).toBe(200);
  });
});
