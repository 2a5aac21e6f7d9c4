/**
 * API and integration figures, end to end against `gridkeeper run` in its
 * own process (bench/gateway.ts) with N chargers connected as OCPP 1.6J
 * peers (bench/peers/chargers-peer.ts, own process), every one in a session:
 *  - GET /api/v1/state at N EVSEs, p99 over a keep-alive socket, with an API
 *    key; baseline: a bare node:http server answering the same bytes;
 *  - live events (SSE): 100 clients (bench/peers/sse-peer.ts, own process) on
 *    /api/v1/events?types=session.updated while the chargers send 1000
 *    MeterValues/s; each event names its meter value by the energy register,
 *    so the latency is MeterValues sent → event received, p99; baseline: the
 *    MeterValues round trip itself;
 *  - webhook deliveries/s: a subscription made with POST /api/v1/webhooks to
 *    a bare receiver, fed by MeterValues (session.updated) sent faster than
 *    500/s; baseline: the same POSTs sent in order by a plain client;
 *  - InfluxDB export points/s: bench/influx.ts (its own gateway).
 */
import { randomBytes } from 'node:crypto';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type GatewayUnderTest, startGateway } from './gateway.js';
import { monoMs } from './peers/clock.js';
import { measureInflux } from './influx.js';
import { forkPeer } from './peers/ipc.js';
import { type BenchResult, percentile } from './types.js';

export interface ApiBenchOptions {
  readonly evses?: number;
  readonly stateRequests?: number;
  readonly sseClients?: number;
  readonly sseRatePerS?: number;
  readonly sseSeconds?: number;
  readonly webhookEvents?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The chargers' energy register at session start (bench/peers/charger.ts), Wh. */
const METER_START_WH = 1_000_000;

function siteConfig(n: number): Record<string, unknown> {
  return {
    site: { id: `api-${n}`, limitW: n * 32 * 690, failsafeLimitW: n * 6 * 690 },
    chargers: Array.from({ length: n }, (_, i) => ({ id: `CP${i}` })),
    ocpp: { securityProfile: 0, unknownChargers: 'reject' },
    api: { events: { retain: 20_000, clientBufferBytes: 4_194_304 } },
  };
}

/** Sequential GETs over one keep-alive socket; latency per request, ms. */
async function getLatencies(url: string, token: string, requests: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let body = '';
  const get = () =>
    new Promise<number>((resolve, reject) => {
      const t0 = performance.now();
      const req = request(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`GET ${url}: ${res.statusCode}`));
          body = Buffer.concat(chunks).toString('utf8');
          resolve(performance.now() - t0);
        });
      });
      req.on('error', reject);
      req.end();
    });
  for (let i = 0; i < 50; i++) await get();
  const lat: number[] = [];
  for (let i = 0; i < requests; i++) lat.push(await get());
  agent.destroy();
  return { lat, body };
}

/** A bare receiver: counts webhook POSTs (arrival on the monotonic clock) and serves `stateBody` as the baseline. */
async function startReceiver() {
  const r = { received: 0, lastAt: 0, stateBody: '{}', url: '', close: async () => {} };
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(r.stateBody);
      return;
    }
    req.on('data', () => undefined);
    req.on('end', () => {
      r.received++;
      r.lastAt = monoMs();
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  r.close = () =>
    new Promise<void>((res) => {
      server.closeAllConnections();
      server.close(() => res());
    });
  return r;
}

async function waitQuiet(count: () => number, want: number, quietMs: number): Promise<void> {
  let last = -1;
  let moved = monoMs();
  while (count() < want) {
    if (count() !== last) {
      last = count();
      moved = monoMs();
    } else if (monoMs() - moved > quietMs) return;
    await sleep(10);
  }
}

async function measure(o: Required<ApiBenchOptions>) {
  const n = o.evses;
  const key = randomBytes(24).toString('hex');
  const receiver = await startReceiver();
  const fleet = forkPeer('./chargers-peer.ts');
  const sse = forkPeer('./sse-peer.ts');
  let gw: GatewayUnderTest | undefined;
  const debug = (s: string) => process.env.GK_BENCH_DEBUG && process.stderr.write(`${s}\n`);
  try {
    gw = await startGateway(siteConfig(n), `api-${n}`, { GRIDKEEPER_ADMIN_KEY: key });
    const api = gw.apiUrl;
    // Periodic meter values off: the figures below send their own.
    await fleet.request('connect', { url: gw.ocppUrl, n, meterIntervalMs: 3_600_000, followMs: 100 });
    await fleet.request('settle', { minA: 0, share: 0, quietMs: 1500, timeoutMs: 60_000 });
    debug(`${n} chargers connected and charging`);

    // 1. GET /api/v1/state, and the same bytes from a bare server.
    // The gateway's CPU time per request (all its threads): a figure the machine's other load hardly moves.
    const cpu0 = gw.cpuMs();
    const state = await getLatencies(`${api}/api/v1/state`, key, o.stateRequests);
    const stateCpuMs = (gw.cpuMs() - cpu0) / (o.stateRequests + 50);
    receiver.stateBody = state.body;
    const bare = await getLatencies(`${receiver.url}/state`, key, o.stateRequests);
    debug(`state p99 ${percentile(state.lat, 99).toFixed(2)} ms, bare ${percentile(bare.lat, 99).toFixed(2)} ms`);

    // 2. Live events: MeterValues k carries the register base + k; its session.updated names it.
    await sse.request('connect', {
      url: `${api}/api/v1/events?types=session.updated`,
      n: o.sseClients,
      token: key,
      sampleEvery: 10,
    });
    await sleep(500);
    const base = 10_000_000;
    const total = o.sseRatePerS * o.sseSeconds;
    const stream = await fleet.request<{ sentAt: number[]; rtts: number[]; ms: number }>('meterStream', {
      ratePerS: o.sseRatePerS,
      total,
      base,
    });
    const got = await sse.request<{ samples: Array<[number, number]>; min: number; max: number }>('collect', {
      expected: total,
      quietMs: 3000,
      timeoutMs: 60_000,
    });
    await sse.request('stop').catch(() => {});
    const sseLat: number[] = [];
    for (const [e, at] of got.samples) {
      // The event carries the session's energy (register − meter start) or the register itself.
      const k = Math.round(e >= base ? e - base : e - base + METER_START_WH);
      const sent = stream.sentAt[k];
      if (k >= 0 && sent !== undefined) sseLat.push(at - sent);
    }
    const sampledClients = Math.ceil(o.sseClients / 10);
    const sse1 = {
      lat: sseLat,
      rtts: stream.rtts,
      achieved: total / (stream.ms / 1000),
      missing: total * sampledClients - sseLat.length,
      perClient: `${got.min}–${got.max}`,
    };
    debug(
      `sse p99 ${percentile(sseLat, 99).toFixed(2)} ms over ${sseLat.length} samples, clients got ${sse1.perClient}`,
    );

    // 3. Webhooks: one subscription, fed faster than 500/s.
    const hook = await fetch(`${api}/api/v1/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: `${receiver.url}/hook`, events: ['session.updated'] }),
    });
    if (hook.status !== 201) throw new Error(`POST /api/v1/webhooks: ${hook.status} ${await hook.text()}`);
    await fleet.request('meterStream', { ratePerS: 1000, total: 100, base: base + total });
    await waitQuiet(() => receiver.received, 100, 3000);
    receiver.received = 0;
    const t0 = monoMs();
    await fleet.request('meterStream', { ratePerS: 5000, total: o.webhookEvents, base: base + total + 100 });
    await waitQuiet(() => receiver.received, o.webhookEvents, 5000);
    const wh = { received: receiver.received, perS: receiver.received / ((receiver.lastAt - t0) / 1000) };
    const payload = JSON.stringify({ type: 'session.updated', data: { energyWh: 1 } });
    const b0 = monoMs();
    for (let i = 0; i < o.webhookEvents; i++) {
      await fetch(`${receiver.url}/hook`, { method: 'POST', body: payload, headers: { 'content-type': 'json' } });
    }
    const whBaseline = o.webhookEvents / ((monoMs() - b0) / 1000);
    debug(`webhooks ${wh.perS.toFixed(0)}/s (${wh.received}/${o.webhookEvents}), bare ${whBaseline.toFixed(0)}/s`);

    return { state, stateCpuMs, bare, sse: sse1, wh, whBaseline, rssMiB: gw.rss() / 2 ** 20 };
  } finally {
    await gw?.stop();
    for (const p of [fleet, sse]) {
      await p.request('stop').catch(() => {});
      await p.stop();
    }
    await receiver.close();
  }
}

/** `bench/run.ts` module contract. */
export async function run(opts: ApiBenchOptions = {}): Promise<BenchResult[]> {
  const o: Required<ApiBenchOptions> = {
    evses: opts.evses ?? 1000,
    stateRequests: opts.stateRequests ?? 500,
    sseClients: opts.sseClients ?? 100,
    sseRatePerS: opts.sseRatePerS ?? 1000,
    sseSeconds: opts.sseSeconds ?? 5,
    webhookEvents: opts.webhookEvents ?? 3000,
  };
  const m = await measure(o);
  const n = o.evses;
  const stP99 = percentile(m.state.lat, 99);
  const sseLat = [...m.sse.lat, ...Array<number>(m.sse.missing).fill(Number.POSITIVE_INFINITY)];
  const sseP99 = percentile(sseLat, 99);
  const out: BenchResult[] = [
    {
      name: `GET /api/v1/state at ${n} EVSEs (e2e), p50`,
      value: percentile(m.state.lat, 50),
      unit: 'ms',
      baseline: percentile(m.bare.lat, 50),
    },
    {
      name: `GET /api/v1/state at ${n} EVSEs (e2e), p99`,
      value: stP99,
      unit: 'ms',
      baseline: percentile(m.bare.lat, 99),
      target: 'p99 <= 10 ms',
      met: stP99 <= 10,
      notes: `${(m.state.body.length / 1024).toFixed(0)} KiB JSON, ${o.stateRequests} sequential requests with an API key over one keep-alive socket to \`gridkeeper run\` with ${n} OCPP chargers in session; baseline: a bare node:http server answering the same bytes`,
    },
    {
      name: `GET /api/v1/state at ${n} EVSEs (e2e), gateway CPU per request`,
      value: m.stateCpuMs,
      unit: 'ms',
      notes:
        'user + system time of the gateway process (every thread, /proc) over the requests incl. 50 warm-up, divided by their number; the control loop and the OCPP worker run meanwhile',
    },
    {
      name: `SSE ${o.sseRatePerS} events/s to ${o.sseClients} clients, MeterValues sent → event received, p50`,
      value: percentile(sseLat, 50),
      unit: 'ms',
      baseline: percentile(m.sse.rtts, 50),
    },
    {
      name: `SSE ${o.sseRatePerS} events/s to ${o.sseClients} clients, MeterValues sent → event received, p99`,
      value: sseP99,
      unit: 'ms',
      baseline: percentile(m.sse.rtts, 99),
      target: 'p99 <= 50 ms',
      met: sseP99 <= 50,
      notes: `achieved ${m.sse.achieved.toFixed(0)} MeterValues/s over ${n} chargers; ${m.sse.lat.length} latency samples (every 10th client), ${m.sse.missing} missing counted as infinite; events per client ${m.sse.perClient}; baseline: the MeterValues round trip (CALL → CALLRESULT) at the same time`,
    },
    {
      name: 'webhook deliveries to a bare receiver, 1 subscription (e2e)',
      value: m.wh.perS,
      unit: '/s',
      baseline: m.whBaseline,
      target: '>= 500/s',
      met: m.wh.perS >= 500,
      notes: `${m.wh.received}/${o.webhookEvents} session.updated deliveries from MeterValues sent at up to 5000/s, subscription made with POST /api/v1/webhooks; rate = received / (first MeterValues → last receipt); baseline: the same POSTs sent in order by a plain client`,
    },
  ];
  const influx = await measureInflux(n);
  if (influx) out.push(influx);
  else
    out.push({
      name: 'InfluxDB export',
      value: Number.NaN,
      unit: 'points/s',
      notes: 'influxd not installed: not measured',
    });
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const small = Number(process.argv[2] ?? 50);
  const results = await run({
    evses: small,
    stateRequests: 100,
    sseClients: 10,
    sseRatePerS: 200,
    sseSeconds: 2,
    webhookEvents: 500,
  });
  for (const r of results) {
    process.stdout.write(
      `${r.name}: ${r.value.toFixed(2)} ${r.unit} (baseline ${r.baseline?.toFixed(2)}) ${r.notes ?? ''}\n`,
    );
  }
  process.exit(0);
}
