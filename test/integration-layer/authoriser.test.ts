import { createHttpAuthoriserClient } from '../../adapters/authoriser/index.js';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthoriserSchema } from '../../src/config/sections/integration.js';
import { ExternalAuthoriser } from '../../src/integration/authoriser.js';
import { INTEGRATION_MIGRATIONS } from '../../src/integration/migrations.js';
import { VehicleStore } from '../../src/integration/vehicles.js';
import { VirtualClock } from '../../src/model/clock.js';
import { openDatabase } from '../../src/store/db.js';
import { silentLogger } from '../../src/util/logger.js';
import { createMetricsRegistry } from '../../src/util/metrics.js';

const SECRET = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;

describe('external authoriser', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function service(
    answer: (body: { data: { idTag: string } }) => { status: number; json?: unknown; delayMs?: number },
  ) {
    const seen: Array<{ headers: Record<string, string>; body: string }> = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ headers: req.headers as Record<string, string>, body });
        const a = answer(JSON.parse(body));
        const t = setTimeout(() => {
          res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.json ?? {}));
        }, a.delayMs ?? 0);
        res.on('close', () => clearTimeout(t));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanup.push(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/authorise`, seen };
  }

  function authoriser(url: string, extra: Record<string, unknown> = {}) {
    const clock = new VirtualClock(Date.now());
    const db = openDatabase({ path: ':memory:', migrations: INTEGRATION_MIGRATIONS });
    cleanup.push(() => {
      db.close();
    });
    const vehicles = new VehicleStore(db, clock, [{ id: 'van-1', idTags: ['FLEET1'] }]);
    const config = AuthoriserSchema.parse({ url, secret: SECRET, timeoutMs: 200, localList: ['LOCAL1'], ...extra });
    const a = new ExternalAuthoriser({
      config,
      client: createHttpAuthoriserClient(config, { clock }),
      db,
      clock,
      log: silentLogger(),
      metrics: createMetricsRegistry({ defaultMetrics: false }),
      vehicles,
    });
    return { a, clock };
  }

  it('asks the service with a signed request and caches acceptances for outages', async () => {
    let up = true;
    const svc = await service((b) =>
      up
        ? { status: 200, json: { status: b.data.idTag === 'GOOD' ? 'Accepted' : 'Blocked', vehicleId: 'car-9' } }
        : { status: 503 },
    );
    const { a } = authoriser(svc.url);
    expect(await a.authorise({ idTag: 'GOOD', chargerId: 'CP01', connectorId: 1 })).toEqual({
      status: 'Accepted',
      source: 'remote',
      vehicleId: 'car-9',
    });
    expect(await a.authorise({ idTag: 'BAD', chargerId: 'CP01' })).toMatchObject({
      status: 'Blocked',
      source: 'remote',
    });
    const verified = new Webhook(SECRET).verify(svc.seen[0]!.body, svc.seen[0]!.headers) as { data: unknown };
    expect(verified.data).toEqual({ idTag: 'GOOD', chargerId: 'CP01', connectorId: 1 });

    up = false;
    expect(await a.authorise({ idTag: 'GOOD', chargerId: 'CP01' })).toMatchObject({
      status: 'Accepted',
      source: 'cache',
    });
    expect(await a.authorise({ idTag: 'BAD', chargerId: 'CP01' })).toMatchObject({
      status: 'Invalid',
      source: 'fallback',
    });
    expect(await a.authorise({ idTag: 'LOCAL1', chargerId: 'CP01' })).toMatchObject({
      status: 'Accepted',
      source: 'local-list',
    });
    expect(await a.authorise({ idTag: 'FLEET1', chargerId: 'CP01' })).toEqual({
      status: 'Accepted',
      source: 'local-list',
      vehicleId: 'van-1',
    });
  });

  it('does not wait beyond the timeout; the configured fallback answers', async () => {
    const svc = await service(() => ({ status: 200, json: { status: 'Accepted' }, delayMs: 2000 }));
    const { a } = authoriser(svc.url, { fallback: 'reject' });
    const t0 = Date.now();
    expect(await a.authorise({ idTag: 'X', chargerId: 'CP01' })).toEqual({ status: 'Invalid', source: 'fallback' });
    expect(Date.now() - t0).toBeLessThan(1500);
    const { a: b } = authoriser(svc.url, { fallback: 'accept' });
    expect(await b.authorise({ idTag: 'X', chargerId: 'CP01' })).toEqual({ status: 'Accepted', source: 'fallback' });
  });
});
