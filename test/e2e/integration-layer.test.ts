import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingHttpHeaders, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { DEMO_ANY_PORTS, type Demo, startDemo } from '../../src/cli/demo.js';
import { silentLogger } from '../../src/util/logger.js';
import { SseReader } from '../api/sse-client.js';
import { sleep, waitFor } from '../helpers/wait.js';

const ADMIN = 'acceptance-admin-key-0123456789';

/**
 * Issue 8's acceptance, against the whole demo (simulated chargers over
 * OCPP, the proxy, the CMS sim): a webhook registered through the API gets
 * signed session events within a second, a receiver that was down gets
 * everything it missed once and in order, a read-only key is refused a
 * command, and the event stream, OpenAPI document and dashboard are served.
 */
describe('integration layer on the running demo', () => {
  it('webhooks, keys, live events, OpenAPI and dashboard work end to end', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gk-accept-'));
    let down = false;
    const got: Array<{ headers: IncomingHttpHeaders; body: string; ok: boolean }> = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        got.push({ headers: req.headers, body, ok: !down });
        res.writeHead(down ? 500 : 200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    let demo: Demo | undefined;
    let sse: SseReader | undefined;
    try {
      demo = await startDemo(
        { ...DEMO_ANY_PORTS, dataDir, chargers: 4, opcua: false },
        { env: { GRIDKEEPER_ADMIN_KEY: ADMIN }, log: silentLogger() },
      );
      const api = demo.gateway.api()!.url();
      const call = (method: string, path: string, key: string, body?: unknown) =>
        fetch(`${api}${path}`, {
          method,
          headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });

      const created = await call('POST', '/api/v1/webhooks', ADMIN, { url: hookUrl, events: ['session.*'] });
      expect(created.status).toBe(201);
      const { secret } = (await created.json()) as { secret: string };
      const wh = new Webhook(secret);
      const readKey = (
        (await (await call('POST', '/api/v1/keys', ADMIN, { name: 'viewer', scopes: ['read'] })).json()) as {
          key: string;
        }
      ).key;
      const controlKey = (
        (await (await call('POST', '/api/v1/keys', ADMIN, { name: 'payments', scopes: ['control'] })).json()) as {
          key: string;
        }
      ).key;

      sse = await SseReader.open(`${api}/api/v1/events`);
      const open = await waitFor(
        'three open OCPP sessions',
        async () => {
          const r = (await (await call('GET', '/api/v1/sessions?limit=50', readKey)).json()) as {
            items: Array<{ sessionId: string; chargerId: string; stoppedAt: string | null }>;
          };
          const o = r.items.filter((s) => s.stoppedAt === null);
          return o.length >= 3 ? o : undefined;
        },
        20_000,
      );
      await waitFor('live events on the stream', () => sse!.events().length > 0 || undefined, 10_000);

      // A read-only key is refused a command.
      const refused = await call('POST', `/api/v1/sessions/${open[0]!.sessionId}/remote-stop`, readKey);
      expect(refused.status).toBe(403);

      // Stop one session: its signed session.stopped arrives within a second.
      const a = open[0]!;
      const t0 = Date.now();
      const stopA = await call('POST', `/api/v1/sessions/${a.sessionId}/remote-stop`, controlKey);
      expect(stopA.status).toBe(200);
      expect(((await stopA.json()) as { status: string }).status).toBe('Accepted');
      const stoppedA = await waitFor(
        'session.stopped by webhook',
        () =>
          got.find((g) => {
            const b = JSON.parse(g.body);
            return b.type === 'session.stopped' && b.data.sessionId === a.sessionId;
          }),
        5_000,
      );
      expect(Date.now() - t0).toBeLessThan(1000);
      const verified = wh.verify(stoppedA.body, stoppedA.headers as Record<string, string>) as {
        data: Record<string, unknown>;
      };
      expect(verified.data).toMatchObject({ sessionId: a.sessionId, chargerId: a.chargerId });
      expect(typeof verified.data.energyWh).toBe('number');

      // The receiver goes down; another session stops meanwhile; it comes back and gets everything once, in order.
      down = true;
      const b = open[1]!;
      expect((await call('POST', `/api/v1/sessions/${b.sessionId}/remote-stop`, controlKey)).status).toBe(200);
      await waitFor('a failed delivery', () => got.some((g) => !g.ok) || undefined, 5_000);
      await sleep(3000);
      down = false;
      await waitFor(
        'the missed session.stopped after recovery',
        () =>
          got.some((g) => {
            const x = JSON.parse(g.body);
            return g.ok && x.type === 'session.stopped' && x.data.sessionId === b.sessionId;
          }) || undefined,
        30_000,
      );
      const attempted = new Set(got.map((g) => Number(g.headers['webhook-id'])));
      await waitFor(
        'every attempted event delivered',
        () =>
          [...attempted].every((id) => got.some((g) => g.ok && Number(g.headers['webhook-id']) === id)) || undefined,
        30_000,
      );
      const okIds = got.filter((g) => g.ok).map((g) => Number(g.headers['webhook-id']));
      expect(new Set(okIds).size).toBe(okIds.length);
      expect(okIds).toEqual([...okIds].sort((x, y) => x - y));

      // The rest of the surface a new user touches.
      const oa = (await (await fetch(`${api}/api/v1/openapi.json`)).json()) as { openapi: string; paths: object };
      expect(oa.openapi).toBe('3.1.0');
      const page = await fetch(`${api}/`);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      const audit = (await (await call('GET', '/api/v1/audit', controlKey)).json()) as {
        items: Array<{ command: string; status: number; by: { name: string } }>;
      };
      expect(audit.items.filter((i) => i.command === 'session.remote-stop').map((i) => [i.by.name, i.status])).toEqual([
        ['payments', 200],
        ['payments', 200],
        ['viewer', 403],
      ]);
    } finally {
      sse?.close();
      await demo?.stop();
      await new Promise<void>((r) => receiver.close(() => r()));
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
