import { afterEach, describe, expect, it } from 'vitest';
import type { ApiProviders } from '../../src/api/providers.js';
import { VirtualClock } from '../../src/model/clock.js';
import { reading } from '../../src/model/reading.js';
import { OperatorCommands } from '../../src/state/operator-commands.js';
import { ADMIN_KEY, type ApiFixture, apiFixture, auth, createKey, evseSpec } from '../api/fixture.js';

/** The routes the dashboard added: pause/resume, alert acknowledgement, fleet plan, price timeline. */
describe('dashboard routes', () => {
  let f: ApiFixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  async function site(providers: ApiProviders = {}, clock = new VirtualClock(Date.UTC(2026, 0, 5, 8))) {
    f = await apiFixture({ providers, clock });
    for (const id of ['CP01', 'CP02']) f.core.bus.emit('evse.spec', evseSpec(id));
    const now = clock.now();
    f.core.bus.emit('grid', { powerW: reading(5_000, now, 'meter') });
    f.core.bus.emit('evse.live', {
      id: 'CP01/1',
      patch: { status: 'Charging', sessionId: 's1', idTag: 'TAG1', sessionEnergyWh: 10_000, sessionStart: now },
    });
    f.core.loop.runRound('manual');
    return { f, clock };
  }

  it('pauses an EVSE with a 0 A operator cap and resumes it; unknown EVSEs are 404, a read key 403', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    let notified = 0;
    const operator = new OperatorCommands(clock, () => notified++);
    const { f } = await site({ operator }, clock);
    const put = await f.api.app.inject({ method: 'PUT', url: '/api/v1/evses/CP01/1/pause', headers: auth(ADMIN_KEY) });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual([
      {
        evseId: 'CP01/1',
        maxCurrentA: 0,
        paused: true,
        by: 'GRIDKEEPER_ADMIN_KEY',
        since: new Date(clock.now()).toISOString(),
      },
    ]);
    expect(notified).toBe(1);
    expect(operator.input(clock.now()).caps).toHaveLength(1);

    const caps = await f.api.app.inject({ method: 'GET', url: '/api/v1/operator/caps', headers: auth(ADMIN_KEY) });
    expect(caps.json()).toHaveLength(1);
    const del = await f.api.app.inject({
      method: 'DELETE',
      url: '/api/v1/evses/CP01/1/pause',
      headers: auth(ADMIN_KEY),
    });
    expect(del.json()).toEqual([]);

    const missing = await f.api.app.inject({
      method: 'PUT',
      url: '/api/v1/evses/CP09/1/pause',
      headers: auth(ADMIN_KEY),
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ detail: 'no EVSE CP09/1' });
    const reader = await createKey(f.api.app, 'reader', ['read']);
    const weak = await f.api.app.inject({ method: 'PUT', url: '/api/v1/evses/CP01/1/pause', headers: auth(reader) });
    expect(weak.statusCode).toBe(403);
    expect(operator.input(clock.now()).caps).toEqual([]);
  });

  it('acknowledges an active alert with or without a note; the acks name who and when', async () => {
    const { f } = await site();
    f.core.bus.emit('evse.live', { id: 'CP02/1', patch: { status: 'Faulted' } });
    // Alert ids are per occurrence (ULIDs): the dashboard takes them from the active list.
    const list = await f.api.app.inject({ method: 'GET', url: '/api/v1/alerts?active=true', headers: auth(ADMIN_KEY) });
    const raised = (list.json() as Array<{ id: string; kind: string; subject: string }>).find(
      (a) => a.kind === 'charger.faulted' && a.subject === 'CP02/1',
    );
    if (!raised) throw new Error(`no charger.faulted alert for CP02/1 in ${list.body}`);
    const alertId = raised.id;
    const id = encodeURIComponent(alertId);
    const bare = await f.api.app.inject({ method: 'POST', url: `/api/v1/alerts/${id}/ack`, headers: auth(ADMIN_KEY) });
    expect(bare.statusCode).toBe(200);
    expect(bare.json()).toEqual({ alertId, acknowledged: true });
    const noted = await f.api.app.inject({
      method: 'POST',
      url: `/api/v1/alerts/${id}/ack`,
      headers: auth(ADMIN_KEY),
      payload: { note: 'technician called' },
    });
    expect(noted.statusCode).toBe(200);
    const bad = await f.api.app.inject({
      method: 'POST',
      url: `/api/v1/alerts/${id}/ack`,
      headers: auth(ADMIN_KEY),
      payload: { nope: 1 },
    });
    expect(bad.statusCode).toBe(400);
    const acks = await f.api.app.inject({ method: 'GET', url: '/api/v1/alerts/acks', headers: auth(ADMIN_KEY) });
    expect(acks.json()).toEqual([
      expect.objectContaining({
        alertId,
        by: 'GRIDKEEPER_ADMIN_KEY',
        note: 'technician called',
      }),
    ]);
    const reader = await createKey(f.api.app, 'reader', ['read']);
    const hidden = await f.api.app.inject({ method: 'GET', url: '/api/v1/alerts/acks', headers: auth(reader) });
    expect(hidden.statusCode).toBe(403);
  });

  it('answers 503 for pause when no operator commands are wired', async () => {
    const { f } = await site();
    const res = await f.api.app.inject({ method: 'PUT', url: '/api/v1/evses/CP01/1/pause', headers: auth(ADMIN_KEY) });
    expect(res.statusCode).toBe(503);
  });

  it('plans every vehicle against its departure: on track, at risk, infeasible, not plugged in, no needs', async () => {
    const { f, clock } = await site();
    const now = clock.now();
    const put = (id: string, body: object) =>
      f.api.app.inject({ method: 'PUT', url: `/api/v1/vehicles/${id}`, headers: auth(ADMIN_KEY), payload: body });
    const needs = (id: string, body: object) =>
      f.api.app.inject({ method: 'PUT', url: `/api/v1/vehicles/${id}/needs`, headers: auth(ADMIN_KEY), payload: body });
    expect((await put('van-1', { idTags: ['TAG1'] })).statusCode).toBe(200);
    expect((await put('van-2', { idTags: ['TAG2'] })).statusCode).toBe(200);
    expect((await put('van-3', { idTags: ['TAG3'] })).statusCode).toBe(200);
    // 22 kW max on a 32 A three-phase EVSE: 30 kWh more in 1 h cannot be done, in 4 h it can.
    expect((await needs('van-1', { departureAt: now + 3_600_000, energyNeededWh: 40_000 })).statusCode).toBe(200);
    expect((await needs('van-2', { departureAt: now + 3_600_000, energyNeededWh: 10_000 })).statusCode).toBe(200);
    f.core.loop.runRound('manual');

    const plan = async () =>
      (await f.api.app.inject({ method: 'GET', url: '/api/v1/fleet/plan', headers: auth(ADMIN_KEY) })).json() as Array<
        Record<string, unknown>
      >;
    const byId = async () => new Map((await plan()).map((p) => [p.vehicleId, p]));
    let p = await byId();
    expect(p.get('van-1')).toMatchObject({
      evseId: 'CP01/1',
      energyNeededWh: 40_000,
      deliveredWh: 10_000,
      remainingWh: 30_000,
      maxW: 22_080,
      status: 'infeasible',
    });
    expect(p.get('van-2')).toMatchObject({ evseId: null, status: 'not-plugged-in', energyNeededWh: 10_000 });
    expect(p.get('van-3')).toMatchObject({ status: 'no-needs', departureAt: null });

    await needs('van-1', { departureAt: now + 4 * 3_600_000, energyNeededWh: 40_000 });
    f.core.loop.runRound('manual');
    p = await byId();
    const sp = p.get('van-1')?.setpointW as number;
    const expected = sp * 4 >= 30_000 ? 'on-track' : 'at-risk';
    expect(p.get('van-1')).toMatchObject({ status: expected, projectedWh: Math.round(10_000 + sp * 4) });

    await needs('van-1', { departureAt: now + 4 * 3_600_000, energyNeededWh: 8_000 });
    expect((await byId()).get('van-1')).toMatchObject({ status: 'done', remainingWh: 0 });
  });

  it('draws the tariff as a timeline, empty without one, and refuses a grid of too many points', async () => {
    const calls: Array<[number, number, number]> = [];
    const { f, clock } = await site({
      grid: {
        events: () => [],
        prices: (from, to, step) => {
          calls.push([from, to, step]);
          const out = [];
          for (let t = from; t < to; t += step)
            out.push({ ts: t, currency: 'EUR', importPerKwh: 0.123456, exportPerKwh: 0.05 });
          return out;
        },
      },
    });
    const now = clock.now();
    const res = await f.api.app.inject({
      method: 'GET',
      url: `/api/v1/grid/prices?from=${now}&to=${now + 3_600_000}&step=900000`,
      headers: auth(ADMIN_KEY),
    });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { currency: string; points: Array<{ ts: string; importPerKwh: number }> };
    expect(body.currency).toBe('EUR');
    expect(body.points).toHaveLength(4);
    expect(body.points[0]).toEqual({ ts: new Date(now).toISOString(), importPerKwh: 0.1235, exportPerKwh: 0.05 });
    expect(calls).toEqual([[now, now + 3_600_000, 900_000]]);

    const tooMany = await f.api.app.inject({
      method: 'GET',
      url: `/api/v1/grid/prices?from=${now}&to=${now + 7 * 86_400_000}&step=60000`,
      headers: auth(ADMIN_KEY),
    });
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json()).toMatchObject({ errors: [expect.objectContaining({ path: 'querystring.step' })] });
  });

  it('lists no prices without a tariff, and every new route is in the OpenAPI document', async () => {
    const { f } = await site();
    const res = await f.api.app.inject({ method: 'GET', url: '/api/v1/grid/prices', headers: auth(ADMIN_KEY) });
    expect(res.json()).toMatchObject({ currency: null, points: [] });
    const doc = (await f.api.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json() as {
      paths: Record<string, unknown>;
    };
    for (const p of [
      '/api/v1/operator/caps',
      '/api/v1/evses/{chargerId}/{connectorId}/pause',
      '/api/v1/alerts/acks',
      '/api/v1/alerts/{id}/ack',
      '/api/v1/fleet/plan',
      '/api/v1/grid/prices',
    ]) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
  });
});
