import type { AddressInfo } from 'node:net';
import { RPCClient, RPCServer } from 'ocpp-rpc';
import type { RPC_ClientOptions } from 'ocpp-rpc/lib/client.js';
import { afterEach, describe, expect, it } from 'vitest';
import { OCPP_MIGRATIONS, createOcppProxy, type OcppProxy } from '../../adapters/ocpp/index.js';
import { SystemClock } from '../../src/model/clock.js';
import { testCore } from '../helpers/core.js';
import { waitFor } from '../helpers/wait.js';

interface Received {
  method: string;
  params: Record<string, unknown>;
}

/**
 * An independent CMS: a bare ocpp-rpc server (not our CMS simulator) that
 * accepts 1.6 chargers, issues its own transaction ids (starting at 5000)
 * and records what it receives.
 */
async function startIndependentCms(port = 0) {
  const received: Received[] = [];
  let nextTx = 5000;
  const server = new RPCServer({ protocols: ['ocpp1.6'], strictMode: true });
  server.on('client', (client) => {
    // Record what arrives and answer like a CMS would.
    const answer = (method: string, reply: (params: Record<string, unknown>) => unknown) =>
      client.handle(method, ({ params }: { params: Record<string, unknown> }) => {
        received.push({ method, params });
        return reply(params);
      });
    answer('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 }));
    answer('Heartbeat', () => ({ currentTime: new Date().toISOString() }));
    answer('StatusNotification', () => ({}));
    answer('Authorize', () => ({ idTagInfo: { status: 'Accepted' } }));
    answer('StartTransaction', () => ({ transactionId: nextTx++, idTagInfo: { status: 'Accepted' } }));
    answer('MeterValues', () => ({}));
    answer('StopTransaction', () => ({ idTagInfo: { status: 'Accepted' } }));
  });
  const http = await server.listen(port, '127.0.0.1');
  return {
    received,
    port: (http.address() as AddressInfo).port,
    async close() {
      await server.close({ force: true, awaitPending: false });
    },
  };
}

/** The gateway's core and proxy with its upstream at the CMS port, and an independent 1.6 charger connected to it. */
async function gateway(cmsPort: number, identity: string, cleanup: Array<() => Promise<void>>) {
  const core = testCore(
    {
      ocpp: {
        port: 0,
        unknownChargers: 'accept',
        upstream: { url: `ws://127.0.0.1:${cmsPort}/ocpp`, reconnectMinMs: 200, reconnectMaxMs: 500 },
      },
    },
    { clock: new SystemClock(), migrations: OCPP_MIGRATIONS },
  );
  core.state.start();
  const proxy: OcppProxy = createOcppProxy(
    { ocpp: core.config.ocpp, chargers: core.config.chargers, site: core.config.site },
    { ...core, metrics: core.metrics },
  );
  await proxy.start();
  cleanup.push(async () => {
    await proxy.stop();
    core.state.stop();
    core.db.close();
  });
  const charger = new RPCClient({
    endpoint: proxy.url(),
    identity,
    protocols: ['ocpp1.6'],
    strictMode: true,
    reconnect: false,
  } as Partial<RPC_ClientOptions> as RPC_ClientOptions);
  await charger.connect();
  cleanup.push(async () => void (await charger.close({ force: true })));
  return { core, proxy, charger };
}

/** ocpp-rpc's `call` is typed `unknown`; the tests know the shapes they expect. */
async function call<T>(client: RPCClient, method: string, params: Record<string, unknown>): Promise<T> {
  return (await client.call(method, params)) as T;
}

const meter = (transactionId: number, wh: number) => ({
  connectorId: 1,
  transactionId,
  meterValue: [
    {
      timestamp: new Date().toISOString(),
      sampledValue: [{ value: String(wh), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }],
    },
  ],
});

/**
 * Issue 5's acceptance with both ends written by someone else (ocpp-rpc's
 * own client and server, not our simulators): the CMS sees boot,
 * authorisation, transaction and meter values through the proxy; it is
 * stopped in the middle of the session and, once back, receives the meter
 * values of the outage and the StopTransaction with its own transaction id.
 */
describe('OCPP 1.6J between independent implementations', () => {
  let cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
    cleanup = [];
  });

  it('forwards a session, survives a CMS outage mid-session and replays with the CMS transaction id', async () => {
    let cms = await startIndependentCms();
    const cmsPort = cms.port;
    cleanup.push(() => cms.close());
    const { core, proxy, charger } = await gateway(cmsPort, 'INDEP-1', cleanup);

    const boot = await call<{ status: string }>(charger, 'BootNotification', {
      chargePointVendor: 'Other',
      chargePointModel: 'X1',
    });
    expect(boot.status).toBe('Accepted');
    await charger.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing' });
    const auth = await call<{ idTagInfo: { status: string } }>(charger, 'Authorize', { idTag: 'DRIVER-1' });
    expect(auth.idTagInfo.status).toBe('Accepted');
    const start = await call<{ transactionId: number }>(charger, 'StartTransaction', {
      connectorId: 1,
      idTag: 'DRIVER-1',
      meterStart: 1000,
      timestamp: new Date().toISOString(),
    });
    // Online, the charger gets the CMS's own id.
    expect(start.transactionId).toBe(5000);
    await charger.call('MeterValues', meter(start.transactionId, 2000));
    await waitFor('CMS sees boot, authorise, start and meter values', () =>
      ['BootNotification', 'Authorize', 'StartTransaction', 'MeterValues'].every((m) =>
        cms.received.some((r) => r.method === m),
      ),
    );

    // The CMS goes away in the middle of the session; the charger keeps sending.
    await cms.close();
    await waitFor('proxy sees the upstream down', () => !proxy.upstreamOnline('INDEP-1'));
    for (const wh of [3000, 4000, 5000]) await charger.call('MeterValues', meter(start.transactionId, wh));
    const stop = await call<{ idTagInfo?: { status: string } }>(charger, 'StopTransaction', {
      transactionId: start.transactionId,
      meterStop: 5500,
      timestamp: new Date().toISOString(),
      reason: 'EVDisconnected',
    });
    expect(stop.idTagInfo?.status ?? 'Accepted').toBe('Accepted');

    // The CMS comes back on the same port: everything of the outage arrives, in order, once.
    cms = await startIndependentCms(cmsPort);
    const stops = await waitFor(
      'StopTransaction replayed',
      () => {
        const s = cms.received.filter((r) => r.method === 'StopTransaction');
        return s.length > 0 ? s : undefined;
      },
      15_000,
    );
    expect(stops).toHaveLength(1);
    expect(stops[0]?.params).toMatchObject({ transactionId: 5000, meterStop: 5500 });
    const replayedMeters = cms.received
      .filter((r) => r.method === 'MeterValues')
      .map((r) =>
        Number((r.params.meterValue as Array<{ sampledValue: Array<{ value: string }> }>)[0]?.sampledValue[0]?.value),
      );
    expect(replayedMeters).toEqual([3000, 4000, 5000]);
    for (const r of cms.received.filter((x) => x.method === 'MeterValues')) expect(r.params.transactionId).toBe(5000);
    // The proxy's session record ends synced with the CMS id and the energy of the session.
    await waitFor('session synced', () => {
      const s = core.sessions.list({ chargerId: 'INDEP-1' })[0];
      return s?.syncState === 'synced' && s.stoppedAt !== undefined ? s : undefined;
    });
    expect(core.sessions.list({ chargerId: 'INDEP-1' })[0]).toMatchObject({
      upstreamTransactionId: '5000',
      energyWh: 4500,
    });
  }, 40_000);

  it('a session started while the CMS is down reaches it with the id the CMS issues, never a gateway id', async () => {
    let cms = await startIndependentCms();
    const cmsPort = cms.port;
    cleanup.push(() => cms.close());
    const { core, proxy, charger } = await gateway(cmsPort, 'INDEP-2', cleanup);
    await charger.call('BootNotification', { chargePointVendor: 'Other', chargePointModel: 'X1' });
    await waitFor('upstream up', () => proxy.upstreamOnline('INDEP-2'));

    await cms.close();
    await waitFor('upstream down', () => !proxy.upstreamOnline('INDEP-2'));
    // Offline: the gateway answers with its own transaction id.
    const start = await call<{ transactionId: number }>(charger, 'StartTransaction', {
      connectorId: 1,
      idTag: 'DRIVER-2',
      meterStart: 0,
      timestamp: new Date().toISOString(),
    });
    expect(start.transactionId).toBeGreaterThan(0);
    await charger.call('MeterValues', meter(start.transactionId, 1500));
    await charger.call('StopTransaction', {
      transactionId: start.transactionId,
      meterStop: 3000,
      timestamp: new Date().toISOString(),
    });

    cms = await startIndependentCms(cmsPort);
    await waitFor(
      'the offline session replayed',
      () => cms.received.some((r) => r.method === 'StopTransaction') || undefined,
      15_000,
    );
    const starts = cms.received.filter((r) => r.method === 'StartTransaction');
    const stops = cms.received.filter((r) => r.method === 'StopTransaction');
    const meters = cms.received.filter((r) => r.method === 'MeterValues');
    expect(starts).toHaveLength(1);
    expect(stops).toHaveLength(1);
    // Remapped to the CMS's id (5000), not the gateway's offline id; energy from the session's own meter start.
    expect(stops[0]?.params).toMatchObject({ transactionId: 5000, meterStop: 3000 });
    expect(meters.map((m) => m.params.transactionId)).toEqual([5000]);
    expect(start.transactionId).not.toBe(5000);
    await waitFor('session synced', () => {
      const s = core.sessions.list({ chargerId: 'INDEP-2' })[0];
      return s?.syncState === 'synced' && s.stoppedAt !== undefined ? s : undefined;
    });
    expect(core.sessions.list({ chargerId: 'INDEP-2' })[0]).toMatchObject({
      upstreamTransactionId: '5000',
      energyWh: 3000,
    });
  }, 40_000);
});
