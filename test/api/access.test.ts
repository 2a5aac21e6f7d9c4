import { afterEach, describe, expect, it } from 'vitest';
import type { OcppCommands } from '../../src/api/providers.js';
import { ADMIN_KEY, type ApiFixture, apiFixture, auth, errorPaths, createKey } from './fixture.js';

describe('API keys, scopes, audit and problem details', () => {
  let f: ApiFixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  const calls: unknown[] = [];
  const ocpp: OcppCommands = {
    async remoteStart(req) {
      calls.push(req);
      return { status: 'Accepted', data: { transactionId: 7 } };
    },
    async remoteStop() {
      return { status: 'Accepted' };
    },
    async setAvailability() {
      return { status: 'Rejected', detail: 'connector busy' };
    },
  };

  it('401 without a key, 401 with an unknown key, 403 with a read key on a command', async () => {
    f = await apiFixture({ providers: { ocpp } });
    const { app } = f.api;
    const anon = await app.inject({ method: 'GET', url: '/api/v1/state' });
    expect(anon.statusCode).toBe(401);
    expect(anon.headers['content-type']).toMatch(/^application\/problem\+json/);

    const bogus = await app.inject({ method: 'GET', url: '/api/v1/state', headers: auth('nope-nope-nope') });
    expect(bogus.statusCode).toBe(401);

    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/keys',
      headers: auth(ADMIN_KEY),
      payload: { name: 'fleet-tool', scopes: ['read'] },
    });
    expect(created.statusCode).toBe(201);
    const { id, key } = created.json();
    expect(key).toMatch(/^gk_/);

    expect((await app.inject({ method: 'GET', url: '/api/v1/state', headers: auth(key) })).statusCode).toBe(200);
    const refused = await app.inject({
      method: 'POST',
      url: '/api/v1/sessions/remote-start',
      headers: auth(key),
      payload: { chargerId: 'CP01', idTag: 'TAG1' },
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ status: 403, title: 'Forbidden' });
    expect(calls).toHaveLength(0);

    // Only the hash is stored.
    const rows = f.core.db.prepare('SELECT * FROM api_keys').all() as Array<Record<string, unknown>>;
    expect(JSON.stringify(rows)).not.toContain(key);

    // Revoked at run time: refused at once.
    expect(
      (await app.inject({ method: 'DELETE', url: `/api/v1/keys/${id}`, headers: auth(ADMIN_KEY) })).statusCode,
    ).toBe(204);
    expect((await app.inject({ method: 'GET', url: '/api/v1/state', headers: auth(key) })).statusCode).toBe(401);
  });

  it('a control key runs commands through the provider; every command is audited with who and result', async () => {
    f = await apiFixture({ providers: { ocpp } });
    const { app } = f.api;
    const key = await createKey(app, 'payment-app', ['control']);
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/sessions/remote-start',
      headers: auth(key),
      payload: { chargerId: 'CP01', connectorId: 1, idTag: 'TAG1' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'Accepted', data: { transactionId: 7 } });
    expect(calls.at(-1)).toEqual({ chargerId: 'CP01', connectorId: 1, idTag: 'TAG1' });

    const stop = await app.inject({ method: 'POST', url: '/api/v1/sessions/nope/remote-stop', headers: auth(key) });
    expect(stop.statusCode).toBe(404);

    // Keys are admin-only.
    expect((await app.inject({ method: 'GET', url: '/api/v1/keys', headers: auth(key) })).statusCode).toBe(403);

    const audit = await app.inject({ method: 'GET', url: '/api/v1/audit', headers: auth(key) });
    expect(audit.statusCode).toBe(200);
    const items = audit.json().items as Array<Record<string, unknown>>;
    expect(items.map((i) => [i.command, i.status])).toEqual([
      ['session.remote-stop', 404],
      ['session.remote-start', 200],
      ['key.create', 201],
    ]);
    expect(items[1]).toMatchObject({
      by: { name: 'payment-app' },
      result: 'ok',
      params: { body: { chargerId: 'CP01', connectorId: 1, idTag: 'TAG1' } },
    });
    expect(items[0]?.result).toMatch(/no session nope/);
    expect(items[2]).toMatchObject({ by: { id: 'env-admin' } });
  });

  it('keys from the config file work, by value or by hash', async () => {
    const { createHash } = await import('node:crypto');
    const hashed = 'hashed-key-0123456789abcdef';
    f = await apiFixture({
      overrides: {
        api: {
          port: 0,
          keys: [
            { name: 'ems', key: 'config-key-0123456789abcdef', scopes: ['read'] },
            { name: 'ops', sha256: createHash('sha256').update(hashed).digest('hex'), scopes: ['admin'] },
          ],
        },
      },
    });
    const { app } = f.api;
    expect(
      (await app.inject({ method: 'GET', url: '/api/v1/state', headers: auth('config-key-0123456789abcdef') }))
        .statusCode,
    ).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/api/v1/keys', headers: auth(hashed) })).statusCode).toBe(200);
  });

  it('commands without their provider answer 503 problem+json', async () => {
    f = await apiFixture();
    const res = await f.api.app.inject({
      method: 'POST',
      url: '/api/v1/chargers/CP01/availability',
      headers: auth(ADMIN_KEY),
      payload: { available: false },
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('400 lists every invalid field with its path, including unknown fields and bad query values', async () => {
    f = await apiFixture();
    const { app } = f.api;
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: auth(ADMIN_KEY),
      payload: { url: 'not a url', events: ['session.*', 42], colour: 'red' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = res.json();
    expect(body).toMatchObject({ status: 400, title: 'Bad Request' });
    expect(errorPaths(res)).toEqual(['body.colour', 'body.events[1]', 'body.url']);
    expect(body.errors.find((e: { path: string }) => e.path === 'body.events[1]').pointer).toBe('/events/1');

    const q = await app.inject({
      method: 'GET',
      url: '/api/v1/sessions?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z&limit=0&bogus=1',
      headers: auth(ADMIN_KEY),
    });
    expect(q.statusCode).toBe(400);
    expect(errorPaths(q)).toEqual(['querystring.bogus', 'querystring.limit', 'querystring.to']);

    const bad = await app.inject({
      method: 'POST',
      url: '/api/v1/keys',
      headers: { ...auth(ADMIN_KEY), 'content-type': 'application/json' },
      payload: '{"name": ',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});
