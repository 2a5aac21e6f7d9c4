import { Validator } from '@seriousme/openapi-schema-validator';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../../src/cli/compose.js';
import { SystemClock } from '../../src/model/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { testConfig } from '../helpers/core.js';

/**
 * The document the fully composed gateway serves (every provider attached:
 * OCPP commands and outbox, grid, integration) is checked against the
 * official OpenAPI 3.1 schema by an independent validator.
 */
describe('OpenAPI document of the composed gateway', () => {
  let gateway: Gateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    gateway = createGateway(testConfig({ api: { port: 0, anonymousRead: true } }), {
      clock: new SystemClock(),
      log: silentLogger(),
      env: {},
    });
    await gateway.start();
    const res = await fetch(`${gateway.api()?.url()}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\.1\./);
    const result = await new Validator().validate(doc as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    // The routes the gateway's partners rely on are there.
    for (const p of [
      '/api/v1/state',
      '/api/v1/sessions',
      '/api/v1/webhooks',
      '/api/v1/grid/limit',
      '/api/v1/ocpp/outbox',
    ]) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
  });
});
