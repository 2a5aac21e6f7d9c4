import { createHttpWebhookSender } from '../adapters/webhooks/index.js';
/**
 * API and integration benchmarks (issue 8 targets):
 *  - GET /api/v1/state at 1000 EVSEs, p99 over a real socket;
 *  - SSE fan-out of 1000 events/s to 100 clients, p99 delivery latency
 *    (clients run in a separate process so their parsing does not load the
 *    gateway's event loop, timestamps from the shared wall clock);
 *  - webhook deliveries/s to a local receiver (one subscription, in order);
 *  - InfluxDB export points/s through the disk buffer to a real influxd.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { createInfluxAdapter } from '../adapters/influx/index.js';
import { createApiServer } from '../src/api/server.js';
import { createCore } from '../src/cli/core.js';
import { validateConfig } from '../src/config/load.js';
import { InfluxSchema } from '../src/config/sections/integration.js';
import { INTEGRATION_MIGRATIONS, createIntegration } from '../src/integration/index.js';
import { SystemClock } from '../src/model/clock.js';
import { reading } from '../src/model/reading.js';
import { silentLogger } from '../src/util/logger.js';
import { type BenchResult, percentile } from './types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function gateway(extra: Record<string, unknown> = {}) {
  const r = validateConfig(
    {
      site: { id: 'bench', limitW: 2_000_000, failsafeLimitW: 100_000 },
      store: { path: ':memory:' },
      api: { port: 0, anonymousRead: true, events: { retain: 20_000, clientBufferBytes: 4_194_304 } },
      ...extra,
    },
    {},
  );
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const core = createCore(r.config, {
    clock: new SystemClock(),
    log: silentLogger(),
    defaultMetrics: false,
    migrations: INTEGRATION_MIGRATIONS,
  });
  const integration = createIntegration(core, {
    webhookSender: createHttpWebhookSender({ timeoutMs: core.config.integration.webhookDelivery.timeoutMs }),
  });
  return { core, integration };
}

async function stateLatency(evses: number, requests: number) {
  const { core, integration } = gateway();
  const api = await createApiServer(core, { integration });
  core.start();
  await integration.start();
  await api.start();
  try {
    const now = core.clock.now();
    core.bus.emit('grid', { powerW: reading(500_000, now, 'meter') });
    for (let i = 0; i < evses; i++) {
      const id = `CP${String(i).padStart(4, '0')}`;
      core.bus.emit('evse.spec', {
        id: `${id}/1`,
        chargerId: id,
        connectorId: 1,
        protocol: 'ocpp',
        circuitId: 'site',
        phaseRotation: 'L1L2L3',
        phases: 3,
        minCurrentA: 6,
        maxCurrentA: 32,
        voltageV: 230,
        bidirectional: false,
        priority: 0,
      });
      core.bus.emit('evse.live', {
        id: `${id}/1`,
        patch: { status: 'Charging', powerW: reading(7000, now, id), sessionId: `s${i}`, idTag: `T${i}` },
      });
    }
    core.loop.runRound('manual');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const url = new URL(`${api.url()}/api/v1/state`);
    const get = () =>
      new Promise<number>((resolve, reject) => {
        const t0 = performance.now();
        const req = request(url, { agent }, (res) => {
          res.on('data', () => undefined);
          res.on('end', () => resolve(performance.now() - t0));
        });
        req.on('error', reject);
        req.end();
      });
    for (let i = 0; i < 50; i++) await get();
    const lat: number[] = [];
    for (let i = 0; i < requests; i++) lat.push(await get());
    agent.destroy();
    const bytes = JSON.stringify((await api.app.inject({ url: '/api/v1/state' })).json()).length;
    return { p50: percentile(lat, 50), p99: percentile(lat, 99), bytes };
  } finally {
    await api.stop();
    await integration.stop();
    core.stop();
  }
}

/** The SSE clients, as a plain Node script run in a child process. */
const SSE_CLIENT = `
import { request, Agent } from 'node:http';
const [url, nClients, expected] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const lat = [];
let done = 0;
let connected = 0;
const agent = new Agent({ keepAlive: true, maxSockets: 1000 });
for (let c = 0; c < nClients; c++) {
  request(url, { agent, headers: { accept: 'text/event-stream' } }, (res) => {
    connected++;
    if (connected === nClients) process.stdout.write('ready\\n');
    res.setEncoding('utf8');
    let got = 0;
    let buf = '';
    res.on('data', (chunk) => {
      const now = performance.timeOrigin + performance.now();
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\\n\\n')) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const m = /"t":([0-9.]+)/.exec(frame);
        if (!m) continue;
        if (c % 10 === 0) lat.push(now - Number(m[1]));
        if (++got === expected) {
          res.destroy();
          if (++done === nClients) {
            process.stdout.write(JSON.stringify(lat) + '\\n', () => process.exit(0));
          }
        }
      }
    });
  }).end();
}
`;

async function sseFanout(clients: number, ratePerS: number, seconds: number) {
  const { core, integration } = gateway();
  const api = await createApiServer(core, { integration });
  await integration.start();
  await api.start();
  const dir = mkdtempSync(join(tmpdir(), 'gk-bench-sse-'));
  const script = join(dir, 'clients.mjs');
  writeFileSync(script, SSE_CLIENT);
  const total = ratePerS * seconds;
  try {
    const child = spawn(
      process.execPath,
      [script, `${api.url()}/api/v1/events?types=grid.*`, String(clients), String(total)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.setEncoding('utf8');
    const ready = new Promise<void>((resolve) => {
      child.stdout.on('data', (c: string) => {
        out += c;
        if (out.includes('ready\n')) resolve();
      });
    });
    const finished = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await ready;
    await sleep(200);
    // 1000 events/s as 10 events every 10 ms.
    const perTick = Math.max(1, Math.round(ratePerS / 100));
    let sent = 0;
    const startedAt = performance.now();
    while (sent < total) {
      for (let i = 0; i < perTick && sent < total; i++, sent++) {
        integration.hub.publish('grid.event', { n: sent, t: performance.timeOrigin + performance.now() });
      }
      const next = startedAt + (sent / ratePerS) * 1000;
      await sleep(Math.max(0, next - performance.now()));
    }
    const achieved = sent / ((performance.now() - startedAt) / 1000);
    await Promise.race([finished, sleep(30_000)]);
    const line = out.split('\n').find((l) => l.startsWith('['));
    if (!line) {
      child.kill('SIGKILL');
      throw new Error('SSE clients did not finish');
    }
    const lat = JSON.parse(line) as number[];
    return { p50: percentile(lat, 50), p99: percentile(lat, 99), achieved, samples: lat.length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await api.stop();
    await integration.stop();
  }
}

async function webhookRate(events: number, subscriptions: number) {
  let received = 0;
  const server = createServer((req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      received++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const { core, integration } = gateway();
  await integration.start();
  try {
    for (let s = 0; s < subscriptions; s++) integration.webhooks.create({ url, events: ['session.*'] });
    // Warm up the connection pool.
    integration.hub.publish('session.updated', { warm: true });
    while (received < subscriptions) await sleep(5);
    received = 0;
    const t0 = performance.now();
    for (let i = 0; i < events; i++) integration.hub.publish('session.updated', { sessionId: `s${i}`, energyWh: i });
    const enqueueMs = performance.now() - t0;
    const want = events * subscriptions;
    const deadline = Date.now() + 120_000;
    while (received < want && Date.now() < deadline) await sleep(10);
    const seconds = (performance.now() - t0) / 1000;
    return { perSecond: received / seconds, enqueuePerEventUs: (enqueueMs * 1000) / events, received, want };
  } finally {
    await integration.stop();
    core.stop();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

async function influxRate(points: number) {
  if (!existsSync('/usr/bin/influxd')) return undefined;
  const { startInfluxd } = await import('../test/adapters/influx/influxd.js');
  const dir = mkdtempSync(join(tmpdir(), 'gk-bench-influx-'));
  const influxd = await startInfluxd(join(dir, 'influx'));
  const { core } = gateway();
  try {
    const adapter = createInfluxAdapter(
      InfluxSchema.parse({ port: influxd.ports.http, database: 'bench', batchSize: 5000 }),
      {
        clock: core.clock,
        log: silentLogger(),
        db: core.db,
        metrics: core.metrics,
        siteId: 'bench',
      },
    );
    await adapter.flush(); // creates the database
    const t0 = performance.now();
    const base = Date.now() - 3_600_000;
    // As the sampler writes them: one buffer row per sample of 20 points.
    for (let i = 0; i < points; i += 20) {
      const batch = [];
      for (let j = 0; j < 20; j++) {
        batch.push({
          measurement: 'evse',
          tags: { site: 'bench', evse: `CP${j}/1` },
          fields: { power_w: i + j },
          ts: base + i,
        });
      }
      adapter.write(batch);
    }
    const bufferMs = performance.now() - t0;
    const r = await adapter.flush();
    const seconds = (performance.now() - t0) / 1000;
    return { perSecond: r.sent / seconds, bufferPerSecond: points / (bufferMs / 1000), sent: r.sent };
  } finally {
    core.stop();
    await influxd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `bench/run.ts` module contract. */
export async function run(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  const st = await stateLatency(1000, 500);
  out.push({
    name: 'GET /api/v1/state at 1000 EVSEs, p50',
    value: st.p50,
    unit: 'ms',
    notes: `${(st.bytes / 1024).toFixed(0)} KiB JSON`,
  });
  out.push({
    name: 'GET /api/v1/state at 1000 EVSEs, p99',
    value: st.p99,
    unit: 'ms',
    target: 'p99 <= 10 ms',
    met: st.p99 <= 10,
  });

  const sse = await sseFanout(100, 1000, 5);
  out.push({
    name: 'SSE fan-out 1000 events/s to 100 clients, delivery p50',
    value: sse.p50,
    unit: 'ms',
    notes: `achieved ${sse.achieved.toFixed(0)} events/s; ${sse.samples} latency samples`,
  });
  out.push({
    name: 'SSE fan-out 1000 events/s to 100 clients, delivery p99',
    value: sse.p99,
    unit: 'ms',
    target: 'p99 <= 50 ms',
    met: sse.p99 <= 50,
  });

  const wh = await webhookRate(3000, 1);
  out.push({
    name: 'webhook deliveries to a local receiver, 1 subscription (in order)',
    value: wh.perSecond,
    unit: '/s',
    target: '>= 500/s',
    met: wh.perSecond >= 500,
    notes: `${wh.received}/${wh.want} delivered; outbox enqueue ${wh.enqueuePerEventUs.toFixed(1)} µs/event`,
  });
  const wh4 = await webhookRate(2000, 4);
  out.push({
    name: 'webhook deliveries to a local receiver, 4 subscriptions',
    value: wh4.perSecond,
    unit: '/s',
    notes: `${wh4.received}/${wh4.want} delivered`,
  });

  const influx = await influxRate(200_000);
  if (influx) {
    out.push({
      name: 'InfluxDB export through the disk buffer (200k points)',
      value: influx.perSecond,
      unit: 'points/s',
      target: '>= 50000 points/s',
      met: influx.perSecond >= 50_000,
      notes: `buffering alone ${influx.bufferPerSecond.toFixed(0)} points/s; real influxd 1.x`,
    });
  } else {
    out.push({
      name: 'InfluxDB export',
      value: Number.NaN,
      unit: 'points/s',
      notes: 'influxd not installed: not measured',
    });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await run();
  for (const r of results) {
    process.stdout.write(
      `${r.name}: ${Number.isFinite(r.value) ? r.value.toFixed(2) : 'n/a'} ${r.unit}${r.target ? ` (target ${r.target}: ${r.met ? 'met' : 'NOT met'})` : ''}${r.notes ? ` — ${r.notes}` : ''}\n`,
    );
  }
}
