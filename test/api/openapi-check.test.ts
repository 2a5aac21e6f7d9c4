import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createApiServer } from '../../src/api/server.js';
import { testCore } from '../helpers/core.js';
import { checkResponsesAgainstOpenApi } from './openapi-check.js';

/** The contract check the API tests rely on must itself catch a lying route. */
describe('OpenAPI response check', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function serverWithLiar() {
    const core = testCore({ api: { port: 0, anonymousRead: true } });
    core.start();
    cleanups.push(() => core.stop());
    const api = await createApiServer(core, {
      plugins: [
        async (app) => {
          const schema = { tags: ['test'], summary: 'x', response: { 200: z.object({ a: z.number() }) } };
          app.get('/api/v1/extra-field', { schema }, async () => ({ a: 1, b: 2 }));
          app.get('/api/v1/wrong-type', { schema }, async () => ({ a: 'one' }));
          app.get('/api/v1/teapot', { schema }, async (_req, reply) => {
            reply.statusCode = 418;
            return { a: 1 };
          });
          app.get('/api/v1/honest', { schema }, async () => ({ a: 1 }));
        },
      ],
    });
    cleanups.push(() => api.stop());
    checkResponsesAgainstOpenApi(api.app);
    return api.app;
  }

  it('rejects undocumented fields, wrong types and undocumented statuses; passes an honest answer', async () => {
    const app = await serverWithLiar();
    await expect(app.inject({ method: 'GET', url: '/api/v1/extra-field' })).rejects.toThrow(/additional properties/);
    await expect(app.inject({ method: 'GET', url: '/api/v1/wrong-type' })).rejects.toThrow(/must be number/);
    await expect(app.inject({ method: 'GET', url: '/api/v1/teapot' })).rejects.toThrow(/418: status not documented/);
    expect((await app.inject({ method: 'GET', url: '/api/v1/honest' })).json()).toEqual({ a: 1 });
    // Unknown routes still answer problem+json, which the check accepts.
    expect((await app.inject({ method: 'GET', url: '/api/v1/nowhere' })).statusCode).toBe(404);
  });
});
