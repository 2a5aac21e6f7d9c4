/**
 * OCPP proxy benchmark (issue 5 targets):
 *  - added latency p50/p99 of a MeterValues round trip through the proxy vs
 *    a direct connection to the same CMS sim, with 1, 100 and 1000 other
 *    chargers connected, each sending MeterValues every 10 s;
 *  - RSS per proxied charger (proxy in its own process);
 *  - durable outbox appends/s (SQLite file, WAL, one transaction each);
 *  - replay rate of a filled outbox against the CMS sim, and the time a 72 h
 *    outage of 1000 chargers with 1-minute meter values would take.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RPCClient } from 'ocpp-rpc';
import { OCPP_MIGRATIONS, OcppOutbox, createOcppProxy } from '../adapters/ocpp/index.js';
import { createCore } from '../src/cli/core.js';
import { validateConfig } from '../src/config/load.js';
import { SystemClock } from '../src/model/clock.js';
import { openDatabase } from '../src/store/db.js';
import { CORE_MIGRATIONS } from '../src/store/migrations.js';
import { silentLogger } from '../src/util/logger.js';
import { type BenchResult, percentile } from './types.js';

export interface OcppBenchOptions {
  /** Numbers of background chargers (MeterValues every `loadIntervalMs`). */
  readonly sizes?: readonly number[];
  readonly loadIntervalMs?: number;
  /** Round trips measured per size and path. */
  readonly probeSamples?: number;
  readonly outboxAppends?: number;
  readonly replayChargers?: number;
  readonly replayRowsPerCharger?: number;
}

export interface LatencyRow {
  readonly chargers: number;
  readonly directP50Ms: number;
  readonly directP99Ms: number;
  readonly proxyP50Ms: number;
  readonly proxyP99Ms: number;
  readonly addedP50Ms: number;
  readonly addedP99Ms: number;
}

export interface OcppBenchResult {
  readonly latency: LatencyRow[];
  readonly rssPerChargerKiB: number;
  readonly rssChargers: number;
  /** Many chargers at once (group commit). */
  readonly outboxAppendsPerSecond: number;
  /** One append per commit. */
  readonly outboxSingleAppendsPerSecond: number;
  readonly replayMessagesPerSecond: number;
  readonly replayRows: number;
  /** 1000 chargers x 72 h x 60 meter values / replay rate. */
  readonly replay72hOutageMinutes: number;
  /** Same with `replay.batchMeterValues: 60` (queued samples coalesced per frame). */
  readonly replayBatchedMessagesPerSecond: number;
  readonly replayBatched72hOutageMinutes: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function meterValues(i: number): Record<string, unknown> {
  return {
    connectorId: 1,
    meterValue: [
      {
        timestamp: new Date().toISOString(),
        sampledValue: [
          { value: String(7000 + (i % 100)), measurand: 'Power.Active.Import', unit: 'W' },
          { value: String(1_000_000 + i), measurand: 'Energy.Active.Import.Register', unit: 'Wh' },
        ],
      },
    ],
  };
}

async function connectMany(url: string, ids: readonly string[]): Promise<RPCClient[]> {
  const out: RPCClient[] = [];
  // Batches keep the accept queue short on a 2-core box.
  for (let i = 0; i < ids.length; i += 50) {
    const batch = ids.slice(i, i + 50).map(async (id) => {
      const c = new RPCClient({
        identity: id,
        endpoint: url,
        protocols: ['ocpp1.6'],
        reconnect: false,
        pingIntervalMs: 0,
      } as never);
      c.on('error', () => {});
      await c.connect();
      return c;
    });
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

/** Background load: each client sends MeterValues every `intervalMs`, phases spread evenly. */
function startLoad(clients: readonly RPCClient[], intervalMs: number): () => void {
  const timers: NodeJS.Timeout[] = [];
  clients.forEach((c, i) => {
    const start = setTimeout(
      () => {
        const send = () => void c.call('MeterValues', meterValues(i)).catch(() => {});
        send();
        timers.push(setInterval(send, intervalMs));
      },
      Math.floor((i / Math.max(1, clients.length)) * intervalMs),
    );
    timers.push(start);
  });
  return () => {
    for (const t of timers) clearTimeout(t);
  };
}

async function probe(url: string, samples: number): Promise<number[]> {
  const [c] = await connectMany(url, [`PROBE-${Math.random().toString(36).slice(2, 8)}`]);
  const client = c as RPCClient;
  const rtts: number[] = [];
  try {
    for (let i = 0; i < 20; i++) await client.call('MeterValues', meterValues(i)); // warm-up
    for (let i = 0; i < samples; i++) {
      const t0 = process.hrtime.bigint();
      await client.call('MeterValues', meterValues(i));
      rtts.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await sleep(5);
    }
  } finally {
    await client.close({ force: true });
  }
  return rtts;
}

async function closeAll(clients: readonly RPCClient[]): Promise<void> {
  await Promise.allSettled(clients.map((c) => c.close({ force: true })));
}

function startGatewayChild(dbPath: string, upstream: string): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(new URL('./ocpp-gateway.ts', import.meta.url).pathname, [dbPath, upstream], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`gateway child exited ${code}`)));
    child.on('message', (m: { type: string; port?: number }) => {
      if (m.type === 'ready') resolve({ child, port: m.port as number });
    });
  });
}

function childRss(child: ChildProcess): Promise<{ rss: number; connected: number }> {
  return new Promise((resolve) => {
    const on = (m: { type: string; rss: number; connected: number }) => {
      if (m.type !== 'rss') return;
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
    child.send({ type: 'rss' });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** The CMS sim in its own process: direct, proxied and replayed traffic all cross processes. */
async function startCmsChild(): Promise<{ url: string; stop: () => Promise<void> }> {
  const cmsChild = fork(new URL('./ocpp-cms.ts', import.meta.url).pathname, [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    cmsChild.once('error', reject);
    cmsChild.on('message', (m: { type: string; url?: string }) => {
      if (m.type === 'ready') resolve(m.url as string);
    });
  });
  return { url, stop: () => stopChild(cmsChild) };
}

async function latencyAndRss(
  sizes: readonly number[],
  intervalMs: number,
  samples: number,
  dir: string,
): Promise<{ rows: LatencyRow[]; rssPerChargerKiB: number; rssChargers: number }> {
  const cms = await startCmsChild();
  const rows: LatencyRow[] = [];
  let rssPerChargerKiB = Number.NaN;
  let rssChargers = 0;
  try {
    for (const n of sizes) {
      const ids = Array.from({ length: n }, (_, i) => `L${n}-${i}`);
      // Direct: chargers talk to the CMS sim themselves.
      const direct = await connectMany(cms.url, ids);
      let stop = startLoad(direct, intervalMs);
      const directRtt = await probe(cms.url, samples);
      stop();
      await closeAll(direct);

      // Proxied: the same through the gateway in its own process.
      const { child, port } = await startGatewayChild(join(dir, `lat-${n}.db`), cms.url);
      try {
        const url = `ws://127.0.0.1:${port}/ocpp`;
        const before = await childRss(child);
        const proxied = await connectMany(url, ids);
        await sleep(500);
        const after = await childRss(child);
        if (n >= 100) {
          rssPerChargerKiB = (after.rss - before.rss) / n / 1024;
          rssChargers = n;
        }
        stop = startLoad(proxied, intervalMs);
        const proxyRtt = await probe(url, samples);
        stop();
        await closeAll(proxied);

        const d50 = percentile(directRtt, 50);
        const d99 = percentile(directRtt, 99);
        const p50 = percentile(proxyRtt, 50);
        const p99 = percentile(proxyRtt, 99);
        rows.push({
          chargers: n,
          directP50Ms: d50,
          directP99Ms: d99,
          proxyP50Ms: p50,
          proxyP99Ms: p99,
          addedP50Ms: p50 - d50,
          addedP99Ms: p99 - d99,
        });
      } finally {
        await stopChild(child);
      }
    }
  } finally {
    await cms.stop();
  }
  return { rows, rssPerChargerKiB, rssChargers };
}

/**
 * Appends/s two ways: one charger at a time (each append its own commit) and
 * with 1000 chargers talking at once, where appends of one event-loop turn
 * share a commit (what the proxy does); both durable before they resolve.
 */
async function outboxAppendRate(n: number, dir: string): Promise<{ single: number; concurrent: number }> {
  const db = openDatabase({ path: join(dir, 'append.db'), migrations: [...CORE_MIGRATIONS, ...OCPP_MIGRATIONS] });
  try {
    const outbox = new OcppOutbox(db);
    const payload = meterValues(1);
    const row = (i: number, tag: string) => ({
      chargerId: `C${i % 1000}`,
      msgId: `${tag}-${i}`,
      protocol: 'ocpp1.6' as const,
      action: 'MeterValues',
      payload,
      createdAt: i,
      offline: true,
    });
    let t0 = process.hrtime.bigint();
    const singles = Math.min(n, 20_000);
    for (let i = 0; i < singles; i++) outbox.append(row(i, 's'));
    const single = singles / (Number(process.hrtime.bigint() - t0) / 1e9);
    t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i += 1000) {
      const wave: Array<Promise<unknown>> = [];
      for (let k = i; k < Math.min(n, i + 1000); k++) wave.push(outbox.appendDurable(row(k, 'c')));
      await Promise.all(wave);
    }
    const concurrent = n / (Number(process.hrtime.bigint() - t0) / 1e9);
    return { single, concurrent };
  } finally {
    db.close();
  }
}

async function replayRate(
  chargers: number,
  rowsPerCharger: number,
  dir: string,
  batchMeterValues = 1,
): Promise<number> {
  const clock = new SystemClock();
  const cms = await startCmsChild();
  const r = validateConfig(
    {
      site: { id: 'bench', limitW: 1_000_000, failsafeLimitW: 100_000 },
      store: { path: join(dir, `replay-${batchMeterValues}.db`) },
      ocpp: {
        port: 0,
        unknownChargers: 'accept',
        pingIntervalMs: 0,
        upstream: { url: cms.url, pingIntervalMs: 0 },
        replay: { batchMeterValues },
      },
    },
    {},
  );
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const core = createCore(r.config, { clock, log: silentLogger(), defaultMetrics: false, migrations: OCPP_MIGRATIONS });
  const proxy = createOcppProxy(
    { ocpp: r.config.ocpp, chargers: r.config.chargers, site: r.config.site },
    { ...core, metrics: core.metrics },
  );
  const ids = Array.from({ length: chargers }, (_, i) => `R${i}`);
  // The outage's backlog, as the outbox would hold it.
  core.db.transaction(() => {
    for (const id of ids) {
      for (let k = 0; k < rowsPerCharger; k++) {
        proxy.outbox.append({
          chargerId: id,
          msgId: `${id}-${k}`,
          protocol: 'ocpp1.6',
          action: 'MeterValues',
          payload: meterValues(k),
          createdAt: k,
          offline: true,
        });
      }
    }
  })();
  await proxy.start();
  const total = chargers * rowsPerCharger;
  let clients: RPCClient[] = [];
  try {
    const t0 = process.hrtime.bigint();
    clients = await connectMany(`ws://127.0.0.1:${proxy.port()}/ocpp`, ids);
    const deadline = Date.now() + 600_000;
    while (proxy.outbox.counts().pending > 0 && Date.now() < deadline) await sleep(50);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const delivered = total - proxy.outbox.counts().pending;
    return delivered / s;
  } finally {
    await closeAll(clients);
    await proxy.stop();
    core.stop();
    await cms.stop();
  }
}

export async function runOcppBench(opts: OcppBenchOptions = {}): Promise<OcppBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gk-bench-ocpp-'));
  try {
    const { rows, rssPerChargerKiB, rssChargers } = await latencyAndRss(
      opts.sizes ?? [1, 100, 1000],
      opts.loadIntervalMs ?? 10_000,
      opts.probeSamples ?? 1000,
      dir,
    );
    const appends = await outboxAppendRate(opts.outboxAppends ?? 50_000, dir);
    const replayChargers = opts.replayChargers ?? 1000;
    const replayRowsPerCharger = opts.replayRowsPerCharger ?? 60;
    const replayMessagesPerSecond = await replayRate(replayChargers, replayRowsPerCharger, dir);
    const replayBatchedMessagesPerSecond = await replayRate(replayChargers, replayRowsPerCharger, dir, 60);
    return {
      latency: rows,
      rssPerChargerKiB,
      rssChargers,
      outboxAppendsPerSecond: appends.concurrent,
      outboxSingleAppendsPerSecond: appends.single,
      replayMessagesPerSecond,
      replayRows: replayChargers * replayRowsPerCharger,
      replay72hOutageMinutes: (1000 * 72 * 60) / replayMessagesPerSecond / 60,
      replayBatchedMessagesPerSecond,
      replayBatched72hOutageMinutes: (1000 * 72 * 60) / replayBatchedMessagesPerSecond / 60,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `bench/run.ts` module contract. */
export async function run(opts: OcppBenchOptions = {}): Promise<BenchResult[]> {
  const r = await runOcppBench(opts);
  const out: BenchResult[] = [];
  for (const row of r.latency) {
    out.push({
      name: `added latency p50, ${row.chargers} chargers`,
      value: row.addedP50Ms,
      unit: 'ms',
      notes: `proxy ${row.proxyP50Ms.toFixed(3)} ms vs direct ${row.directP50Ms.toFixed(3)} ms`,
    });
    out.push({
      name: `added latency p99, ${row.chargers} chargers`,
      value: row.addedP99Ms,
      unit: 'ms',
      target: row.chargers === 1000 ? 'p99 <= 2 ms at 1000 chargers' : undefined,
      ...(row.chargers === 1000 ? { met: row.addedP99Ms <= 2 } : {}),
      notes: `proxy ${row.proxyP99Ms.toFixed(3)} ms vs direct ${row.directP99Ms.toFixed(3)} ms`,
    } as BenchResult);
  }
  out.push({
    name: `RSS per proxied charger (${r.rssChargers} chargers)`,
    value: r.rssPerChargerKiB,
    unit: 'KiB',
    target: '<= 100 KB',
    met: r.rssPerChargerKiB <= 100,
  });
  out.push({
    name: 'durable outbox appends, 1000 chargers at once (group commit)',
    value: r.outboxAppendsPerSecond,
    unit: '/s',
    target: '>= 20000/s',
    met: r.outboxAppendsPerSecond >= 20_000,
  });
  out.push({ name: 'durable outbox appends, one commit each', value: r.outboxSingleAppendsPerSecond, unit: '/s' });
  out.push({ name: `outbox replay (${r.replayRows} rows)`, value: r.replayMessagesPerSecond, unit: 'msg/s' });
  out.push({
    name: 'replay of 72 h outage, 1000 chargers, 1-min meter values (extrapolated, one frame per message)',
    value: r.replay72hOutageMinutes,
    unit: 'min',
    target: '<= 10 min',
    met: r.replay72hOutageMinutes <= 10,
  });
  out.push({
    name: `outbox replay (${r.replayRows} rows), batchMeterValues 60`,
    value: r.replayBatchedMessagesPerSecond,
    unit: 'msg/s',
  });
  out.push({
    name: 'replay of 72 h outage, 1000 chargers (extrapolated, batchMeterValues 60)',
    value: r.replayBatched72hOutageMinutes,
    unit: 'min',
    target: '<= 10 min',
    met: r.replayBatched72hOutageMinutes <= 10,
  });
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const small = process.argv.includes('--quick');
  const results = await run(
    small
      ? { sizes: [1, 100], probeSamples: 100, outboxAppends: 10_000, replayChargers: 20, replayRowsPerCharger: 100 }
      : {},
  );
  for (const r of results) {
    process.stdout.write(
      `${r.name.padEnd(75)} ${r.value.toFixed(3).padStart(12)} ${r.unit.padEnd(6)} ${r.target ?? ''} ${r.met === undefined ? '' : r.met ? 'met' : 'NOT met'} ${r.notes ?? ''}\n`,
    );
  }
  process.exit(0);
}
