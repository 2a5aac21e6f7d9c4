import { createHttpWebhookSender } from '../../adapters/webhooks/index.js';
import type { GatewayConfigInput } from '../../src/config/schema.js';
import { type ApiServer, createApiServer } from '../../src/api/server.js';
import type { ApiProviders } from '../../src/api/providers.js';
import { createIntegration, INTEGRATION_MIGRATIONS, type Integration } from '../../src/integration/index.js';
import type { Clock } from '../../src/model/clock.js';
import type { EvseSpec } from '../../src/model/site.js';
import { testCore } from '../helpers/core.js';
import { evseSpec as baseSpec } from '../helpers/evse.js';
import { checkResponsesAgainstOpenApi } from './openapi-check.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export interface ApiFixture {
  core: ReturnType<typeof testCore>;
  integration: Integration;
  api: ApiServer;
  close(): Promise<void>;
}

/** Core + integration + API server (not listening until `api.start()`). */
export async function apiFixture(
  opts: {
    overrides?: Partial<GatewayConfigInput>;
    providers?: ApiProviders;
    clock?: Clock;
    storePath?: string;
    anonymousRead?: boolean;
  } = {},
): Promise<ApiFixture> {
  const { api: apiOverride, ...rest } = opts.overrides ?? {};
  const core = testCore(
    {
      ...rest,
      api: { port: 0, anonymousRead: opts.anonymousRead ?? false, ...(apiOverride ?? {}) },
      ...(opts.storePath ? { store: { path: opts.storePath } } : {}),
    },
    {
      migrations: INTEGRATION_MIGRATIONS,
      env: { GRIDKEEPER_ADMIN_KEY: ADMIN_KEY },
      ...(opts.clock ? { clock: opts.clock } : {}),
    },
  );
  const integration = createIntegration(core, {
    webhookSender: createHttpWebhookSender({ timeoutMs: core.config.integration.webhookDelivery.timeoutMs }),
  });
  const api = await createApiServer(core, { integration, providers: opts.providers ?? {} });
  checkResponsesAgainstOpenApi(api.app);
  core.start();
  await integration.start();
  let closed = false;
  return {
    core,
    integration,
    api,
    async close() {
      if (closed) return;
      closed = true;
      await api.stop();
      await integration.stop();
      core.stop();
    },
  };
}

export const auth = (key: string) => ({ authorization: `Bearer ${key}` });

/** The `path` of every field error of a 400 problem, sorted. */
export const errorPaths = (res: { json(): unknown }): string[] =>
  ((res.json() as { errors?: Array<{ path: string }> }).errors ?? []).map((e) => e.path).sort();

/** A new API key with these scopes, made by the admin through the API. */
export async function createKey(app: ApiServer['app'], name: string, scopes: string[]): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/keys',
    headers: auth(ADMIN_KEY),
    payload: { name, scopes },
  });
  return (res.json() as { key: string }).key;
}

export const evseSpec = (chargerId: string, connectorId = 1): EvseSpec =>
  baseSpec(`${chargerId}/${connectorId}`, { connectorId });
