import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/model/clock.js';
import { SimCharger } from '../../sim/devices/ocpp/charger.js';
import { SimVehicle } from '../../sim/site/vehicle.js';
import { type Stack, startStack, waitFor } from '../adapters/ocpp/helpers.js';
import { ADMIN_KEY, type ApiFixture, apiFixture, auth, createKey } from './fixture.js';

interface OutboxBody {
  pending: number;
  parked: number;
  chargers: Array<{
    chargerId: string;
    connected: boolean;
    upstreamOnline: boolean;
    pending: number;
    oldestPendingAt: string | null;
    oldestPendingAgeS: number | null;
    parkedCount: number;
    parked: Array<{ seq: number; msgId: string; action: string; error: string | null; tries: number }>;
  }>;
}

describe('OCPP outbox in the API and metrics', () => {
  let stack: Stack | undefined;
  let charger: SimCharger | undefined;
  let f: ApiFixture | undefined;
  afterEach(async () => {
    await charger?.stop();
    await stack?.close();
    await f?.close();
    charger = undefined;
    stack = undefined;
    f = undefined;
  });

  it('without an OCPP proxy both routes answer 503 problem+json', async () => {
    f = await apiFixture();
    const get = await f.api.app.inject({ method: 'GET', url: '/api/v1/ocpp/outbox', headers: auth(ADMIN_KEY) });
    expect(get.statusCode).toBe(503);
    expect(get.headers['content-type']).toContain('application/problem+json');
    const post = await f.api.app.inject({
      method: 'POST',
      url: '/api/v1/ocpp/outbox/retry',
      headers: auth(ADMIN_KEY),
      payload: {},
    });
    expect(post.statusCode).toBe(503);
  });

  it('shows pending and parked messages per charger, in /metrics too, and a control key re-queues them', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    stack = await startStack({
      clock,
      chargers: [{ id: 'OBX1' }],
      ocpp: { replay: { maxAttempts: 2, retryMinMs: 100, retryMaxMs: 400 } },
    });
    const { proxy, cms, core } = stack;
    charger = new SimCharger({ id: 'OBX1', protocol: 'ocpp1.6', url: proxy.url(), clock, meterIntervalMs: 60_000 });
    await charger.start();
    const cp = charger;
    await waitFor(() => cp.booted && proxy.upstreamOnline('OBX1'), { what: 'boot' });
    f = await apiFixture({ clock, providers: { ocppOutbox: proxy } });
    const app = f.api.app;
    const outbox = async (q = '') => {
      const res = await app.inject({ method: 'GET', url: `/api/v1/ocpp/outbox${q}`, headers: auth(ADMIN_KEY) });
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as OutboxBody;
    };

    // Connected, nothing owed.
    expect((await outbox()).chargers).toEqual([
      expect.objectContaining({ chargerId: 'OBX1', connected: true, upstreamOnline: true, pending: 0, parkedCount: 0 }),
    ]);

    await cms.setOutage(true);
    await waitFor(() => !proxy.upstreamOnline('OBX1'), { what: 'upstream down' });
    const vehicle = new SimVehicle(
      { id: 'EV', capacityWh: 60_000, socPct: 20, maxCurrentA: 16, phases: 3, responseDelayMs: 0 },
      clock.now(),
    );
    await cp.plugIn(vehicle, 'TAG-OBX');
    await waitFor(() => cp.backlog === 0, { what: 'answered locally' });
    const until = clock.now() + 90_000;
    await waitFor(() => clock.now() >= until && cp.backlog === 0, {
      clock,
      advanceMs: 1000,
      what: 'meter values answered',
    });
    const during = await outbox();
    const c = during.chargers[0];
    expect(c).toMatchObject({ chargerId: 'OBX1', connected: true, upstreamOnline: false, parkedCount: 0 });
    expect(c?.pending).toBeGreaterThanOrEqual(3); // status, start, meter values
    expect(c?.oldestPendingAgeS).toBeGreaterThanOrEqual(90);
    expect(c?.oldestPendingAgeS).toBeLessThan(200);
    expect(during.pending).toBe(c?.pending);
    const scrape = await core.metrics.metrics();
    expect(scrape).toContain(`gridkeeper_ocpp_outbox_pending{charger="OBX1"} ${c?.pending}`);
    expect(scrape).toContain('gridkeeper_ocpp_outbox_parked{charger="OBX1"} 0');
    expect(scrape).toMatch(/gridkeeper_ocpp_outbox_oldest_pending_seconds\{charger="OBX1"\} (9\d|1\d\d)/);

    // The CMS refuses the start for good: it is parked after two tries and the queue behind it moves on.
    cms.failNext('StartTransaction', 'InternalError', 2);
    await cms.setOutage(false);
    await waitFor(() => proxy.outbox.counts().pending === 0, { clock, advanceMs: 100, what: 'queue moves on' });
    const after = await outbox('?chargerId=OBX1');
    expect(after).toMatchObject({ pending: 0, parked: 1 });
    expect(after.chargers[0]).toMatchObject({ pending: 0, oldestPendingAt: null, oldestPendingAgeS: null });
    expect(after.chargers[0]?.parked).toEqual([
      expect.objectContaining({
        action: 'StartTransaction',
        tries: 2,
        error: expect.stringContaining('InternalError'),
      }),
    ]);
    expect(await core.metrics.metrics()).toContain('gridkeeper_ocpp_outbox_parked{charger="OBX1"} 1');
    // A single gauge read on its own is fresh too.
    expect(await core.metrics.getSingleMetricAsString('gridkeeper_ocpp_outbox_pending')).toContain(
      'gridkeeper_ocpp_outbox_pending{charger="OBX1"} 0',
    );
    expect((await outbox('?chargerId=nope')).chargers).toEqual([]);

    // A read-only key may look but not retry.
    const readKey = await createKey(app, 'viewer', ['read']);
    const view = await app.inject({ method: 'GET', url: '/api/v1/ocpp/outbox', headers: auth(readKey) });
    expect(view.statusCode).toBe(200);
    const refused = await app.inject({
      method: 'POST',
      url: '/api/v1/ocpp/outbox/retry',
      headers: auth(readKey),
      payload: {},
    });
    expect(refused.statusCode).toBe(403);
    const bad = await app.inject({
      method: 'POST',
      url: '/api/v1/ocpp/outbox/retry',
      headers: auth(ADMIN_KEY),
      payload: { seqs: ['x'], extra: 1 },
    });
    expect(bad.statusCode).toBe(400);

    // Only parked messages of the named charger are taken; an unknown seq requeues nothing.
    const none = await app.inject({
      method: 'POST',
      url: '/api/v1/ocpp/outbox/retry',
      headers: auth(ADMIN_KEY),
      payload: { seqs: [999_999] },
    });
    expect(none.json()).toEqual({ requeued: 0 });
    const starts = cms.received('StartTransaction').length;
    const retry = await app.inject({
      method: 'POST',
      url: '/api/v1/ocpp/outbox/retry',
      headers: auth(ADMIN_KEY),
      payload: { chargerId: 'OBX1' },
    });
    expect(retry.statusCode, retry.body).toBe(200);
    expect(retry.json()).toEqual({ requeued: 1 });
    await waitFor(() => cms.received('StartTransaction').length > starts && proxy.outbox.counts().pending === 0, {
      clock,
      advanceMs: 100,
      what: 'retried start delivered',
    });
    expect((await outbox()).parked).toBe(0);
    expect(await core.metrics.metrics()).toContain('gridkeeper_ocpp_outbox_parked{charger="OBX1"} 0');
    // The command is in the audit log.
    const audit = f.integration.audit.list?.({}) ?? [];
    expect(JSON.stringify(audit)).toContain('ocpp.outbox.retry');
  });

  it('both routes are in the OpenAPI document', async () => {
    f = await apiFixture();
    const doc = (await f.api.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json();
    expect(doc.paths['/api/v1/ocpp/outbox']?.get?.responses?.['200']).toBeDefined();
    expect(doc.paths['/api/v1/ocpp/outbox/retry']?.post?.requestBody).toBeDefined();
  });
});
