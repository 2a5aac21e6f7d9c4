import { mkdtempSync, rmSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { OcppProxy } from '../../adapters/ocpp/index.js';
import { ChargerPeer } from '../../bench/peers/charger.js';
import { type Gateway, createGateway } from '../../src/cli/compose.js';
import { validateConfig } from '../../src/config/load.js';
import { SystemClock, VirtualClock } from '../../src/model/clock.js';
import type { SessionInfo } from '../../src/model/events.js';
import { createLogger } from '../../src/util/logger.js';
import { type JsonCms, startJsonCms } from '../e2e/peers/ocpp-json.js';

/**
 * `ocpp.thread: worker` (src/cli/ocpp-worker-host.ts): the whole gateway (`createGateway`) on a file store and
 * the system clock, a CMS and chargers on real sockets (plain ws + JSON, bench/peers). What the proxy does in
 * its worker must reach the main thread's bus, API, dispatcher and metrics, and the other way round.
 */
interface Fixture {
  gw: Gateway;
  proxy: OcppProxy;
  cms: JsonCms;
  logs: Array<Record<string, unknown>>;
  fatal: Error[];
}

const ENV = { GRIDKEEPER_ADMIN_KEY: 'k'.repeat(32) };
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => {});
});

function memoryLog() {
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logs, log: createLogger({ level: 'info', destination }) };
}

function config(cmsUrl: string, dir: string, thread?: 'worker' | 'main') {
  const v = validateConfig(
    {
      site: { id: 'worker', limitW: 100_000, failsafeLimitW: 100_000 },
      store: { path: join(dir, 'gk.db') },
      api: { port: 0, host: '127.0.0.1' },
      chargers: [{ id: 'CP0' }, { id: 'CP1' }],
      ocpp: {
        port: 0,
        host: '127.0.0.1',
        callTimeoutMs: 2000,
        upstream: { url: cmsUrl, reconnectMinMs: 200 },
        // The main thread yields to the proxy's (ocpp.mainThreadNice); 1 keeps the test process's own priority close.
        mainThreadNice: 1,
        ...(thread ? { thread } : {}),
      },
    },
    ENV,
  );
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return v.config;
}

async function start(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'gk-ocpp-worker-'));
  closers.push(async () => rmSync(dir, { recursive: true, force: true }));
  const cms = await startJsonCms({ firstTxId: 500 });
  closers.push(() => cms.stop());
  const { logs, log } = memoryLog();
  const fatal: Error[] = [];
  const gw = createGateway(config(cms.url, dir), {
    clock: new SystemClock(),
    log,
    env: ENV,
    defaultMetrics: false,
    onFatal: (err) => fatal.push(err),
  });
  await gw.start();
  closers.push(() => gw.stop());
  const proxy = gw.component<OcppProxy>('ocpp');
  if (!proxy) throw new Error('no proxy');
  return { gw, proxy, cms, logs, fatal };
}

async function charger(f: Fixture, id: string): Promise<ChargerPeer> {
  const c = await ChargerPeer.connect({ url: f.proxy.url(), id, followMs: 100 });
  closers.push(() => c.close());
  return c;
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('OCPP proxy in a worker thread', () => {
  it('runs in the worker: sessions reach the bus and the API, set-points reach the charger, metrics are served', async () => {
    const f = await start();
    expect(f.logs.some((l) => l.msg === 'OCPP proxy running in its own worker thread')).toBe(true);
    expect(getPriority(0)).toBeGreaterThanOrEqual(1);
    // The proxy's own log lines come through the gateway's logger (with its component and the charger's id).
    const started: SessionInfo[] = [];
    f.gw.core.bus.on('session.started', (s) => started.push(s));
    const c = await charger(f, 'CP0');
    await c.boot();
    await c.status('Preparing');
    await c.startSession('TAG0');
    await c.meterValues();
    await waitFor(() => started.length === 1, 5000, 'session.started on the main bus');
    expect(started[0]).toMatchObject({ chargerId: 'CP0' });
    await waitFor(() => f.proxy.connected().includes('CP0'), 2000, 'connected mirror');
    await waitFor(() => f.proxy.upstreamOnline('CP0'), 5000, 'CMS link mirror');
    expect(f.logs.some((l) => l.msg === 'charger connected' && l.chargerId === 'CP0' && l.component === 'ocpp')).toBe(
      true,
    );
    // The session is in the main thread's store (the worker wrote it through its own connection) and on the API.
    const api = f.gw.api()?.url() as string;
    const sessions = (await (
      await fetch(`${api}/api/v1/sessions`, { headers: { authorization: `Bearer ${ENV.GRIDKEEPER_ADMIN_KEY}` } })
    ).json()) as unknown;
    expect(JSON.stringify(sessions)).toContain(started[0]?.id);
    expect(f.gw.core.sessions.get(started[0]?.id as string)?.chargerId).toBe('CP0');
    // The control loop's set-point went through the dispatcher, the worker's sink and the charger's profile.
    await waitFor(() => (c.limitA ?? 0) > 0, 10_000, 'a charging profile at the charger');
    expect(f.gw.core.dispatcher.current('CP0/1')?.currentA).toBeGreaterThan(0);
    // CMS → charger through the proxy, and an API command from the main thread.
    const remote = await f.cms.call('CP0', 'DataTransfer', { vendorId: 'x' });
    expect(remote.status).toBe('Accepted');
    const r = await f.proxy.commands.remoteStop({ chargerId: 'CP0', sessionId: started[0]?.id as string });
    expect(r.status).toBe('Accepted');
    // The CMS got the charger's messages under its own transaction id.
    await waitFor(() => f.cms.received.some((m) => m.action === 'MeterValues'), 5000, 'MeterValues at the CMS');
    const metrics = await f.gw.core.metrics.metrics();
    expect(metrics).toMatch(/gridkeeper_ocpp_chargers_connected 1/);
    await waitFor(() => f.proxy.stats.forwarded + f.proxy.stats.replayed >= 1, 2000, 'stats mirror');
    expect(f.proxy.outboxSummary()).toEqual([
      expect.objectContaining({ chargerId: 'CP0', connected: true, upstreamOnline: true, pending: 0 }),
    ]);
    expect(f.fatal).toEqual([]);
  }, 30_000);

  it('parked messages are retried through the main thread and sent by the worker', async () => {
    const f = await start();
    const c = await charger(f, 'CP1');
    await c.boot();
    await waitFor(() => f.proxy.upstreamOnline('CP1'), 5000, 'CMS link');
    // A message the CMS refused for good, as the outbox parks it.
    f.gw.core.db
      .prepare(
        `INSERT INTO ocpp_outbox (charger_id, msg_id, protocol, action, payload, created_at, status, attempts)
         VALUES ('CP1', 'parked-1', 'ocpp1.6', 'DataTransfer', '{"vendorId":"parked"}', ?, 'poison', 5)`,
      )
      .run(Date.now());
    const parked = f.proxy.parked(10, 'CP1');
    expect(parked.map((p) => p.msgId)).toEqual(['parked-1']);
    expect(f.proxy.retryParked(parked.map((p) => p.seq))).toBe(1);
    await waitFor(() => f.cms.received.some((m) => m.msgId === 'parked-1'), 5000, 'the retried message at the CMS');
    await waitFor(() => f.proxy.parked(10, 'CP1').length === 0, 2000, 'no longer parked');
  }, 30_000);

  it('stops and starts again: chargers reconnect to the new worker', async () => {
    const f = await start();
    const c = await charger(f, 'CP0');
    await c.boot();
    await waitFor(() => f.proxy.connected().includes('CP0'), 2000, 'connected');
    await f.proxy.stop();
    expect(f.proxy.connected()).toEqual([]);
    await waitFor(() => !c.open, 2000, 'charger socket closed by the stop');
    await f.proxy.start();
    const again = await charger(f, 'CP0');
    await again.boot();
    await waitFor(() => f.proxy.connected().includes('CP0'), 2000, 'connected again');
    await again.status('Preparing');
    await again.startSession('TAG1');
    await waitFor(() => (again.limitA ?? 0) > 0, 10_000, 'a set-point after the restart');
  }, 30_000);

  it('a worker that dies is reported loudly, its sinks withdrawn and onFatal called', async () => {
    const f = await start();
    const c = await charger(f, 'CP0');
    await c.boot();
    await c.status('Preparing');
    await c.startSession('TAG0');
    await waitFor(() => (c.limitA ?? 0) > 0, 10_000, 'a profile');
    const host = f.proxy as OcppProxy & { worker(): { postMessage(m: unknown): void } | undefined };
    // Something the worker cannot handle: an uncaught exception in its thread.
    host.worker()?.postMessage(42);
    await waitFor(() => f.fatal.length === 1, 5000, 'onFatal');
    expect(f.fatal[0]?.message).toMatch(/not iterable/);
    expect(f.logs.some((l) => l.level === 60 && String(l.msg).includes('OCPP proxy worker died'))).toBe(true);
    expect(f.proxy.connected()).toEqual([]);
    await expect(f.proxy.commands.remoteStart({ chargerId: 'CP0', idTag: 'X' })).resolves.toMatchObject({
      status: 'Rejected',
    });
    await waitFor(() => !c.open, 5000, 'the charger sees its socket close');
  }, 30_000);

  it('stays on the main thread on a virtual clock or an in-memory store, and says so', async () => {
    const { logs, log } = memoryLog();
    const cfg = config('ws://127.0.0.1:9', '/nonexistent');
    const gw = createGateway(
      { ...cfg, store: { ...cfg.store, path: ':memory:' } },
      {
        clock: new SystemClock(),
        log,
        env: {},
        defaultMetrics: false,
      },
    );
    expect(gw.component<OcppProxy & { worker?: unknown }>('ocpp')?.worker).toBeUndefined();
    expect(logs.some((l) => l.reason === 'the store is in memory')).toBe(true);
    const v = createGateway(
      { ...cfg, store: { ...cfg.store, path: ':memory:' } },
      {
        clock: new VirtualClock(0),
        log,
        env: {},
        defaultMetrics: false,
      },
    );
    expect(v.component<OcppProxy & { worker?: unknown }>('ocpp')?.worker).toBeUndefined();
    expect(logs.some((l) => l.reason === 'the gateway runs on a virtual clock')).toBe(true);
  });
});
