import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import type { SessionInfo } from '../../src/bus/events.js';
import { VirtualClock } from '../../src/model/clock.js';
import { ADMIN_KEY, type ApiFixture, apiFixture, auth } from './fixture.js';
import { sleep, waitFor } from '../helpers/wait.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/** A webhook receiver on port 0 that answers `status()` (500 = down). */
async function receiver(status: () => number = () => 204) {
  const got: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const s = status();
      got.push({ headers: req.headers, body, status: s });
      res.writeHead(s).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    got,
    url: `http://127.0.0.1:${port}/hook`,
    ok: () => got.filter((g) => g.status < 300),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Advance virtual time in steps, letting real I/O run in between, until `pred`. */
async function drive(clock: VirtualClock, stepMs: number, pred: () => boolean, maxSteps = 2000): Promise<void> {
  for (let i = 0; i < maxSteps && !pred(); i++) {
    clock.advance(stepMs);
    await sleep(2);
  }
  if (!pred()) throw new Error('condition not reached');
}

const session = (id: string, extra: Partial<SessionInfo> = {}): SessionInfo => ({
  id,
  evseId: 'CP01/1',
  chargerId: 'CP01',
  connectorId: 1,
  idTag: 'TAG1',
  startedAt: Date.now(),
  energyWh: 0,
  syncState: 'pending',
  ...extra,
});

describe('webhooks', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  async function fixture(opts: Parameters<typeof apiFixture>[0] = {}): Promise<ApiFixture & { clock: VirtualClock }> {
    // Signatures carry a timestamp the receiver checks against its wall clock.
    const clock = new VirtualClock(Date.now());
    const f = await apiFixture({ clock, ...opts });
    cleanup.push(() => f.close());
    return Object.assign(f, { clock });
  }

  it('POST /api/v1/webhooks returns a whsec_ secret; session events arrive signed, ids = event ids', async () => {
    const rx = await receiver();
    cleanup.push(rx.close);
    const f = await fixture();
    const res = await f.api.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: auth(ADMIN_KEY),
      payload: { url: rx.url, events: ['session.*'] },
    });
    expect(res.statusCode).toBe(201);
    const { id, secret } = res.json();
    expect(secret).toMatch(/^whsec_/);

    const ids: number[] = [];
    f.integration.hub.subscribe((e) => e.type.startsWith('session.') && ids.push(e.id));
    f.core.bus.emit('session.started', session('s1'));
    f.core.bus.emit('device', { id: 'm', protocol: 'modbus', kind: 'meter', online: true });
    f.core.bus.emit('session.stopped', session('s1', { energyWh: 5000, stoppedAt: Date.now() + 1000 }));
    await waitFor('two deliveries', () => rx.got.length >= 2);

    const wh = new Webhook(secret);
    expect(rx.got.map((g) => Number(g.headers['webhook-id']))).toEqual(ids);
    for (const g of rx.got) {
      expect(g.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
      const verified = wh.verify(g.body, g.headers as Record<string, string>) as Record<string, unknown>;
      expect(verified).toMatchObject({ data: { sessionId: 's1', chargerId: 'CP01' } });
    }
    const bodies = rx.got.map((g) => JSON.parse(g.body));
    expect(bodies.map((b) => b.type)).toEqual(['session.started', 'session.stopped']);
    expect(bodies[1]).toMatchObject({ timestamp: expect.any(String), data: { energyWh: 5000, cost: 1.5 } });
    // A tampered body fails verification.
    expect(() => wh.verify(`${rx.got[0]!.body} `, rx.got[0]!.headers as Record<string, string>)).toThrow();

    await waitFor('outbox updated', () => f.integration.webhooks.stats(id).delivered === 2);
    const get = await f.api.app.inject({ method: 'GET', url: `/api/v1/webhooks/${id}`, headers: auth(ADMIN_KEY) });
    expect(get.json()).toMatchObject({ id, stats: { delivered: 2, pending: 0, dead: 0 } });
    expect(
      (await f.api.app.inject({ method: 'DELETE', url: `/api/v1/webhooks/${id}`, headers: auth(ADMIN_KEY) }))
        .statusCode,
    ).toBe(204);
    expect(
      (await f.api.app.inject({ method: 'GET', url: `/api/v1/webhooks/${id}`, headers: auth(ADMIN_KEY) })).statusCode,
    ).toBe(404);
  });

  it('a receiver down for a minute afterwards gets everything it missed, each once, in order', async () => {
    let down = true;
    const rx = await receiver(() => (down ? 500 : 200));
    cleanup.push(rx.close);
    const f = await fixture();
    const { id } = f.integration.webhooks.create({ url: rx.url, events: ['session.*'] });
    for (let i = 0; i < 5; i++) f.core.bus.emit('session.updated', session('s2', { energyWh: i * 100 }));
    await waitFor('first attempt', () => rx.got.length >= 1);
    // Only the head is tried while the receiver is down: order is kept.
    await drive(f.clock, 1000, () => rx.got.length >= 4, 120);
    expect(new Set(rx.got.map((g) => JSON.parse(g.body).data.energyWh))).toEqual(new Set([0]));
    f.clock.advance(60_000);
    down = false;
    await drive(f.clock, 1000, () => rx.ok().length >= 5, 3600);
    const delivered = rx.ok().map((g) => JSON.parse(g.body).data.energyWh);
    expect(delivered).toEqual([0, 100, 200, 300, 400]);
    const okIds = rx.ok().map((g) => g.headers['webhook-id']);
    expect(new Set(okIds).size).toBe(5);
    await waitFor('outbox updated', () => f.integration.webhooks.stats(id).delivered === 5);
    expect(f.integration.webhooks.stats(id)).toMatchObject({ delivered: 5, pending: 0, dead: 0 });
  });

  it('dead-letters after the retry window, shows it in the API and /metrics, and redelivers on request', async () => {
    let down = true;
    const rx = await receiver(() => (down ? 500 : 200));
    cleanup.push(rx.close);
    const f = await fixture({
      overrides: {
        integration: { webhookDelivery: { deadAfterMs: 60_000, initialBackoffMs: 1000, maxBackoffMs: 10_000 } },
      },
    });
    const { id } = f.integration.webhooks.create({ url: rx.url, events: ['alert.*'] });
    const e = f.integration.hub.publish('alert.raised', { id: 'x' });
    await drive(f.clock, 1000, () => f.integration.webhooks.stats(id).dead === 1, 500);
    // The retry window is honoured: not dead before it.
    const dead = f.integration.webhooks.deliveryLog(id, { state: 'dead' });
    expect(dead).toHaveLength(1);
    expect(dead[0]!.doneAt! - dead[0]!.createdAt).toBeGreaterThanOrEqual(60_000);
    expect(dead[0]!.attempts).toBeGreaterThan(3);

    const api = await f.api.app.inject({
      method: 'GET',
      url: `/api/v1/webhooks/${id}/deliveries?state=dead`,
      headers: auth(ADMIN_KEY),
    });
    expect(api.json()).toEqual([expect.objectContaining({ eventId: e.id, state: 'dead', lastStatus: 500 })]);
    const metrics = (await f.api.app.inject({ method: 'GET', url: '/metrics', headers: auth(ADMIN_KEY) })).body;
    expect(metrics).toMatch(/gridkeeper_webhook_dead_letters_total 1/);
    expect(metrics).toMatch(/gridkeeper_webhook_outbox_events\{state="dead"\} 1/);

    down = false;
    const re = await f.api.app.inject({
      method: 'POST',
      url: `/api/v1/webhooks/${id}/redeliver`,
      headers: auth(ADMIN_KEY),
      payload: {},
    });
    expect(re.statusCode).toBe(202);
    expect(re.json()).toEqual({ queued: 1 });
    await waitFor('redelivery', () => rx.ok().length === 1 && f.integration.webhooks.stats(id).delivered === 1);
    expect(rx.ok()[0]!.headers['webhook-id']).toBe(String(e.id));
    expect(f.integration.webhooks.stats(id)).toMatchObject({ dead: 0, delivered: 1 });
  });

  it('the outbox survives a restart of the gateway', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-wh-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const storePath = join(dir, 'gw.db');
    const rx = await receiver(() => 503);
    const first = await fixture({ storePath });
    const sub = first.integration.webhooks.create({ url: rx.url, events: ['session.*'] });
    const ids = [1, 2, 3].map((i) => first.integration.hub.publish('session.updated', { n: i }).id);
    await waitFor('first attempt', () => rx.got.length >= 1);
    await first.close();
    await rx.close();

    const rx2 = await receiver(() => 200);
    cleanup.push(rx2.close);
    // Same subscription, receiver moved to a new port: point it there directly in the store.
    const second = await fixture({ storePath });
    second.core.db.prepare('UPDATE webhook_subs SET url = ? WHERE id = ?').run(rx2.url, sub.id);
    await second.integration.stop();
    const third = await fixture({ storePath });
    await second.close();
    // The earlier failures left a back-off pending: let virtual time pass.
    await drive(third.clock, 1000, () => rx2.ok().length >= 3, 200);
    expect(rx2.ok().map((g) => Number(g.headers['webhook-id']))).toEqual(ids);
    // Ids keep growing across restarts.
    expect(third.integration.hub.publish('session.updated', { n: 4 }).id).toBeGreaterThan(ids[2]!);
  });
});
