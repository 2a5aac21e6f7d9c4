import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpWebhookSender } from '../../../adapters/webhooks/index.js';

const SECRET = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;

describe('HTTP webhook sender (Standard Webhooks)', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  });

  async function receiver(status: number, headers: Record<string, string> = {}) {
    const got: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        got.push({ headers: req.headers, body });
        res.writeHead(status, headers).end();
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
  }

  const message = (url: string) => ({
    url,
    secret: SECRET,
    msgId: '42',
    timestamp: Date.UTC(2026, 0, 1, 12),
    body: JSON.stringify({ type: 'session.started', timestamp: '2026-01-01T12:00:00Z', data: { id: 's1' } }),
  });

  it('posts the body signed with the subscription secret, verifiable by any Standard Webhooks library', async () => {
    const rx = await receiver(204);
    const sender = createHttpWebhookSender({ timeoutMs: 1000 });
    expect(await sender.send(message(rx.url), new AbortController().signal)).toEqual({ status: 204, error: null });
    const [req] = rx.got;
    expect(req?.headers['webhook-id']).toBe('42');
    expect(req?.headers['webhook-timestamp']).toBe(String(Date.UTC(2026, 0, 1, 12) / 1000));
    // The signature is over the timestamp sent: verify at that time.
    const wh = new Webhook(SECRET);
    const headers = { ...(req?.headers as Record<string, string>) };
    expect(() => wh.verify(req?.body ?? '', headers)).toThrow(/timestamp/i);
    const sig = wh.sign('42', new Date(Date.UTC(2026, 0, 1, 12)), req?.body ?? '');
    expect(req?.headers['webhook-signature']).toBe(sig);
  });

  it('reports non-2xx, redirects (not followed) and refused connections as failed attempts', async () => {
    const sender = createHttpWebhookSender({ timeoutMs: 1000 });
    const signal = new AbortController().signal;
    const down = await receiver(503);
    expect(await sender.send(message(down.url), signal)).toEqual({ status: 503, error: 'HTTP 503' });
    const target = await receiver(204);
    const moved = await receiver(302, { location: target.url });
    expect(await sender.send(message(moved.url), signal)).toEqual({ status: 302, error: 'HTTP 302' });
    expect(target.got).toHaveLength(0);
    // The redirecting receiver goes away: nothing listens on its port any more.
    const closed = servers.pop();
    closed?.closeAllConnections();
    await new Promise<void>((r) => closed?.close(() => r()));
    const r = await sender.send(message(moved.url), signal);
    expect(r.status).toBeNull();
    expect(r.error).toMatch(/ECONNREFUSED|connect/i);
  });
});
