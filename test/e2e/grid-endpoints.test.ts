import { afterEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../../src/cli/compose.js';
import { SystemClock } from '../../src/model/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { createOscpCpSim } from '../../sim/utility/oscp-cp.js';
import { createVtnSim } from '../../sim/utility/vtn.js';
import { testConfig } from '../helpers/core.js';

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The composed gateway serves the VEN's subscription callback and the OSCP
 * flexibility-provider endpoints on its one HTTP API server, behind their
 * own authentication (subscription bearer token, OSCP token), with API keys
 * required everywhere else.
 */
describe('grid adapter endpoints on the gateway API server', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  it('takes OSCP messages and VTN notifications on the API port without an API key', async () => {
    const clock = new SystemClock();
    const vtn = createVtnSim({ clock, programs: [{ programName: 'depot-dr' }] });
    const cp = createOscpCpSim({ clock, cpToken: 'cp-token' });
    await vtn.start();
    closers.push(() => vtn.stop());
    await cp.start();
    closers.push(() => cp.stop());
    const gateway: Gateway = createGateway(
      testConfig({
        api: { port: 0, anonymousRead: false },
        grid: {
          openadr: {
            enabled: true,
            vtnUrl: vtn.url,
            clientId: 'ven-client',
            clientSecret: 'ven-secret',
            venName: 'depot-1',
            programNames: ['depot-dr'],
            pollIntervalMs: 3_600_000,
            subscribe: true,
          },
          oscp: {
            enabled: true,
            capacityProviderUrl: cp.url,
            cpToken: 'cp-token',
            fpToken: 'fp-token',
            groupId: 'depot-1',
          },
        },
      }),
      { clock, log: silentLogger(), env: {} },
    );
    closers.push(() => gateway.stop());
    await gateway.start();
    const api = gateway.api()?.url() ?? '';

    // OSCP: Register announced the API server, and the capacity provider reaches us there.
    expect(cp.fp()?.baseUrl).toBe(`${api}/oscp/fp/2.0`);
    await until(() => cp.received.some((m) => m.name === 'handshake'));
    expect(await cp.sendHeartbeat(120_000)).toBe(204);
    const now = clock.now();
    const block = {
      capacity: 17,
      phase: 'ALL',
      unit: 'KW',
      start_time: new Date(now - 1000).toISOString(),
      end_time: new Date(now + 900_000).toISOString(),
    };
    expect(await cp.sendForecast('depot-1', 'CONSUMPTION', [block])).toBe(204);
    expect(gateway.grid.store.active(clock.now(), 'importLimit').map((s) => [s.source, s.value])).toContainEqual([
      'oscp',
      17_000,
    ]);
    const wrongToken = await fetch(`${api}/oscp/fp/2.0/heartbeat`, {
      method: 'POST',
      headers: { authorization: 'Token nope', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(wrongToken.status).toBe(401);

    // OpenADR: the subscription points at the API server, and a notification there makes the VEN poll.
    await until(() => vtn.subscriptions.size === 1);
    const sub = [...vtn.subscriptions.values()][0] as unknown as { objectOperations: Array<{ callbackUrl: string }> };
    expect(sub.objectOperations[0]?.callbackUrl).toBe(`${api}/openadr/callback`);
    const programID = [...vtn.programs.values()][0]?.id ?? '';
    vtn.createEvent({
      programID,
      eventName: 'peak',
      payloadDescriptors: [{ payloadType: 'IMPORT_CAPACITY_LIMIT', units: 'KW' }],
      intervalPeriod: { start: new Date(now - 1000).toISOString(), duration: 'PT1H' },
      intervals: [{ id: 0, payloads: [{ type: 'IMPORT_CAPACITY_LIMIT', values: [12] }] }],
    });
    await until(() => gateway.grid.store.active(clock.now(), 'importLimit').some((s) => s.source === 'openadr'));
    expect(vtn.stats.notificationErrors).toBe(0);
    const forged = await fetch(`${api}/openadr/callback`, { method: 'POST', body: '{}' });
    expect(forged.status).toBe(403);

    // Everything else on the server still wants an API key.
    expect((await fetch(`${api}/api/v1/grid`)).status).toBe(401);
  });
});
