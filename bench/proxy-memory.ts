/**
 * Diagnostic (not a judged bench): where the gateway's memory per charger
 * goes under the proxy bench's traffic. Runs the same peers and config as
 * bench/proxy.ts, then, with every charger connected and in traffic, reads
 * through the gateway's inspector: RSS, the live heap after a forced GC,
 * external / array-buffer memory, and (with --snapshot) a heap snapshot
 * summarised per constructor against one taken before any charger
 * connected. `npx tsx bench/proxy-memory.ts [--chargers N] [--snapshot]
 * [--control-off]`.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { startGateway } from './gateway.js';
import { forkPeer } from './peers/ipc.js';
import { freePort } from './peers/ports.js';
import { gatewayConfig } from './proxy.js';
import { connectHeapProbe } from './proxy-heap.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 2 ** 20;
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const n = Number(arg('--chargers') ?? 1000);
const rampMs = 10_000;
const snapshot = process.argv.includes('--snapshot');
/** Where to write a CPU profile of 20 s of steady traffic (the gateway's main thread). */
const cpuProfile = arg('--cpu-profile');
/** Where to write a sampling allocation profile of 20 s of steady traffic (garbage included). */
const allocProfile = arg('--alloc-profile');
/** When the profile starts (ms after the first charger connects; default: steady traffic) and how long it runs. */
const profileFrom = Number(arg('--profile-from') ?? rampMs + 3000);
const profileMs = Number(arg('--profile-ms') ?? 20_000);
const control = process.argv.includes('--control-off') ? { coalesceMs: 5000 } : undefined;
/** More node options for the gateway (e.g. `--trace-gc`, `--cpu-prof --cpu-prof-dir=...`); GK_BENCH_KEEP=1 keeps its log. */
const nodeOptions = arg('--node-options') ?? '';
/** More environment for the gateway, `K=V,K=V` (e.g. glibc malloc tunables). */
const extraEnv = Object.fromEntries(
  (arg('--env') ?? '')
    .split(',')
    .filter((kv) => kv.includes('='))
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
/** After the run, ask glibc (through gdb) to hand freed malloc memory back, to tell free-but-kept from in use. */
const mallocTrim = process.argv.includes('--malloc-trim');

/** Resident memory of a process by kind of mapping (/proc/<pid>/smaps), MiB. */
function smaps(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let kind = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const size = (Number.parseInt(head[2] as string, 16) - Number.parseInt(head[1] as string, 16)) / 1024;
      const name = head[3] ?? '';
      kind = name.startsWith('/')
        ? 'file'
        : name !== ''
          ? name
          : size === 256
            ? 'anon 256K (V8 page)'
            : size >= 65536
              ? 'anon >=64M (malloc arena / V8 reservation)'
              : 'anon other';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[kind] = (out[kind] ?? 0) + Number(rss[1]) / 1024;
  }
  return out;
}

/** Evaluated in the gateway: size/used of each V8 heap space, MiB. */
const SPACES =
  "require('v8').getHeapSpaceStatistics().map((s) => s.space_name.replace('_space', '') + ' ' + (s.space_size / 1048576).toFixed(1) + '/' + (s.space_used_size / 1048576).toFixed(1)).join(', ')";

const fmtSmaps = (a: Record<string, number>, b: Record<string, number>) =>
  Object.keys(b)
    .map((k) => `${k}: ${(a[k] ?? 0).toFixed(0)} → ${(b[k] ?? 0).toFixed(0)}`)
    .join('; ');

interface Agg {
  count: number;
  size: number;
}

/** Self size and count per "type:name" of a V8 heap snapshot. */
function summarise(json: string): Map<string, Agg> {
  const snap = JSON.parse(json) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const f = snap.snapshot.meta.node_fields;
  const stride = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const out = new Map<string, Agg>();
  for (let i = 0; i < snap.nodes.length; i += stride) {
    const type = types[snap.nodes[i + iType] as number] as string;
    let name = snap.strings[snap.nodes[i + iName] as number] as string;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '';
    if (type === 'code') name = '';
    if (name.length > 60) name = `${name.slice(0, 60)}…`;
    const key = `${type}:${name}`;
    const a = out.get(key) ?? { count: 0, size: 0 };
    a.count++;
    a.size += snap.nodes[i + iSize] as number;
    out.set(key, a);
  }
  return out;
}

const peer = forkPeer('./traffic-peer.ts');
const { url: cmsUrl } = await peer.request<{ url: string }>('startCms');
const inspectPort = await freePort();
const gw = await startGateway(gatewayConfig(n, cmsUrl, control), 'memory', {
  NODE_OPTIONS: `--inspect=127.0.0.1:${inspectPort} ${nodeOptions}`,
  ...extraEnv,
});
const probe = await connectHeapProbe(inspectPort);
try {
  await sleep(4000);
  const m0 = await probe.memory();
  await sleep(1000);
  const rss0 = gw.rss();
  const sm0 = smaps(gw.pid);
  const snap0 = snapshot ? summarise(await probe.snapshot()) : undefined;
  const traffic = peer.request('traffic', {
    n,
    url: gw.ocppUrl,
    connectRampMs: rampMs,
    durationMs: 40_000,
    meterIntervalMs: 10_000,
    heartbeatIntervalMs: 60_000,
    remoteEveryMs: 100,
    sessionMs: [20_000, 90_000],
    sessionGapMs: [5_000, 15_000],
  });
  await probe.evaluate(
    "globalThis.__gkGc = []; new (require('node:perf_hooks').PerformanceObserver)((l) => { for (const e of l.getEntries()) globalThis.__gkGc.push([Math.round(e.startTime), e.detail.kind, Math.round(e.duration)]); }).observe({ entryTypes: ['gc'] }); 1",
  );
  const rss: number[] = [];
  const spaces: Array<[number, string]> = [];
  const t0 = Date.now();
  let profiled: Promise<string> | undefined;
  while (Date.now() - t0 < rampMs + 25_000) {
    if ((cpuProfile || allocProfile) && !profiled && Date.now() - t0 > profileFrom)
      profiled = cpuProfile ? probe.cpuProfile(profileMs) : probe.allocations(profileMs);
    await sleep(1000);
    rss.push(gw.rss());
    // V8's spaces as they are (no GC): how much of the RSS is young generation, old garbage, large objects.
    if (rss.length % 5 === 0) spaces.push([rss.length, String(await probe.evaluate(SPACES))]);
  }
  if (profiled) writeFileSync((cpuProfile ?? allocProfile) as string, await profiled);
  const peak = Math.max(...rss.slice(12));
  const sm1 = smaps(gw.pid);
  const gcs = (await probe.evaluate('JSON.stringify(globalThis.__gkGc)')) as string;
  const kinds: Record<string, [number, number]> = {};
  for (const [, kind, ms] of JSON.parse(gcs) as Array<[number, number, number]>) {
    const k =
      ({ 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' } as Record<number, string>)[kind] ?? String(kind);
    const a = kinds[k] ?? [0, 0];
    a[0]++;
    a[1] += ms;
    kinds[k] = a;
  }
  process.stdout.write(`GCs in traffic (count, ms): ${JSON.stringify(kinds)}\n`);
  const m1 = await probe.memory();
  const sm2 = smaps(gw.pid);
  const per = (a: number, b: number) => `${((b - a) / n / 1000).toFixed(1)} KB/charger`;
  process.stdout.write(
    `RSS before ${(rss0 / MiB).toFixed(1)} MiB, peak in traffic ${(peak / MiB).toFixed(1)} MiB (${per(rss0, peak)}), after forced GC ${(m1.rss / MiB).toFixed(1)} MiB (${per(rss0, m1.rss)})\n` +
      `live heap ${(m0.heapUsed / MiB).toFixed(1)} → ${(m1.heapUsed / MiB).toFixed(1)} MiB (${per(m0.heapUsed, m1.heapUsed)}); heapTotal ${(m0.heapTotal / MiB).toFixed(1)} → ${(m1.heapTotal / MiB).toFixed(1)}\n` +
      `external ${(m0.external / MiB).toFixed(1)} → ${(m1.external / MiB).toFixed(1)} MiB, arrayBuffers ${(m0.arrayBuffers / MiB).toFixed(1)} → ${(m1.arrayBuffers / MiB).toFixed(1)} MiB\n` +
      `smaps in traffic (MiB) ${fmtSmaps(sm0, sm1)}\nafter GC ${fmtSmaps(sm0, sm2)}\n` +
      `rss samples: ${rss.map((x) => (x / MiB).toFixed(0)).join(' ')}\n`,
  );
  for (const [t, sp] of spaces) process.stdout.write(`V8 spaces at ${t} s (MiB size/used): ${sp}\n`);
  process.stdout.write(`V8 spaces after forced GC: ${String(await probe.evaluate(SPACES))}\n`);
  if (mallocTrim) {
    const before = gw.rss();
    const r = spawnSync('gdb', ['-p', String(gw.pid), '-batch', '-ex', 'call (int)malloc_trim(0)'], {
      encoding: 'utf8',
    });
    const sm3 = smaps(gw.pid);
    process.stdout.write(
      `malloc_trim(0): RSS ${(before / MiB).toFixed(1)} → ${(gw.rss() / MiB).toFixed(1)} MiB (${r.status === 0 ? 'ok' : r.stderr.slice(-300)}); smaps ${fmtSmaps(sm0, sm3)}\n`,
    );
  }
  if (snap0) {
    const raw = await probe.snapshot();
    writeFileSync('/tmp/gk-proxy.heapsnapshot', raw);
    const snap1 = summarise(raw);
    const rows = [...snap1.entries()].map(([k, a]) => {
      const b = snap0.get(k) ?? { count: 0, size: 0 };
      return { k, dc: a.count - b.count, ds: a.size - b.size };
    });
    rows.sort((a, b) => b.ds - a.ds);
    for (const r of rows.slice(0, 60))
      process.stdout.write(
        `${(r.ds / n).toFixed(0).padStart(7)} B/charger ${(r.dc / n).toFixed(2).padStart(8)} objs/charger  ${r.k}\n`,
      );
  }
  await traffic;
} finally {
  probe.close();
  await gw.stop();
  await peer.request('stop').catch(() => {});
  await peer.stop();
}
process.exit(0);
