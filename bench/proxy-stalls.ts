/**
 * Diagnostic for the proxy's latency tail (not a bench module, nothing goes into results.json):
 * `flock /work/wt/bench.lock npx tsx bench/proxy-stalls.ts [--cpu-prof <dir>] [--chargers N] [--node-args "<v8 flags>"]` runs the proxy
 * bench's traffic (bench/proxy.ts, no reconnect part) with the stall probe (bench/stall-probe.ts) preloaded into
 * the gateway, and prints what blocked the gateway's event loop for more than 2 ms: stalls per minute by the
 * recorded work that overlapped them most (SQLite commit, control round, GC, ...), and the added latency beside.
 */
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './proxy.js';

interface Report {
  elapsedS: number;
  timeOrigin: number;
  loopDelayMs: Record<string, number>;
  walMaxMiB: number;
  totals: Record<string, { n: number; ms: number; over2: number; max: number }>;
  stalls: Array<{
    t: number;
    d: number;
    cpuMs: number;
    runMs?: number;
    waitMs?: number;
    overlaps: Record<string, number>;
  }>;
}

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const reportFile = join(tmpdir(), `gk-stalls-${process.pid}.json`);
const probe = fileURLToPath(new URL('./stall-probe.ts', import.meta.url));
const prof = arg('--cpu-prof');
process.env.GK_STALL_REPORT = reportFile;
// --node-args "<flags>": V8 flags for the gateway to compare (e.g. GC settings), diagnostics only.
// The OCPP proxy's worker thread (ocpp.thread: worker) loads the same probe and reports apart.
process.env.GK_OCPP_WORKER_IMPORT = probe;
process.env.GK_BENCH_NODE_ARGS = `--import ${probe}${prof ? ` --cpu-prof --cpu-prof-dir ${prof}` : ''} ${arg('--node-args') ?? ''}`;

const traffic = { from: 0, to: 0 };
const results = await run({
  chargers: Number(arg('--chargers') ?? 1000),
  reconnectMeasured: 0,
  onTraffic: (pid, phase) => {
    traffic[phase === 'start' ? 'from' : 'to'] = Date.now();
    process.kill(pid, 'SIGUSR2');
  },
});
for (const r of results.filter((x) => /charger → CMS call, .* p(50|99)$|CPU/.test(x.name)))
  process.stdout.write(`${r.name}: ${r.value.toFixed(3)} ${r.unit}\n`);

function print(label: string, rep: Report): void {
  process.stdout.write(`\n== ${label}\n`);
  const min = rep.elapsedS / 60;
  process.stdout.write(
    `\nrecorded ${rep.elapsedS.toFixed(0)} s of traffic; loop delay (monitorEventLoopDelay) p50 ${rep.loopDelayMs.p50?.toFixed(2)} p99 ${rep.loopDelayMs.p99?.toFixed(2)} max ${rep.loopDelayMs.max?.toFixed(1)} ms; WAL file at most ${rep.walMaxMiB.toFixed(1)} MiB\n`,
  );
  const by: Record<string, { n: number; ms: number; max: number }> = {};
  for (const s of rep.stalls) {
    if (s.d <= 2) continue;
    const top = Object.entries(s.overlaps).sort((a, b) => b[1] - a[1])[0];
    // The process used less than half the stall's wall time on a CPU: it waited for one (other load on the machine).
    // This thread waited for a CPU (runqueue, /proc/thread-self/schedstat) for most of it: the machine or the
    // gateway's other thread had the cores.
    const off = (s.waitMs ?? 0) > s.d / 2 ? 'runqueue-wait ' : s.cpuMs < s.d / 2 ? 'off-CPU ' : '';
    // A stall mostly not covered by recorded work is the proxy's own message handling (see the CPU profile).
    const key = `${off}${top && top[1] >= s.d / 2 ? top[0] : `unattributed${top ? ` (largest: ${top[0]})` : ''}`}`;
    const x = by[key] ?? { n: 0, ms: 0, max: 0 };
    by[key] = x;
    x.n++;
    x.ms += s.d;
    x.max = Math.max(x.max, s.d);
  }
  const stalls = rep.stalls.filter((s) => s.d > 2);
  process.stdout.write(`stalls > 2 ms: ${stalls.length} (${(stalls.length / min).toFixed(0)}/min)\n`);
  for (const [k, x] of Object.entries(by).sort((a, b) => b[1].n - a[1].n))
    process.stdout.write(
      `  ${(x.n / min).toFixed(1).padStart(6)}/min  mean ${(x.ms / x.n).toFixed(1)} ms  max ${x.max.toFixed(1)} ms  ${k}\n`,
    );
  process.stdout.write('\nrecorded work (whole window): count, > 2 ms, max, total ms\n');
  for (const [k, x] of Object.entries(rep.totals)
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, 25))
    process.stdout.write(
      `  ${String(x.n).padStart(6)} ${String(x.over2).padStart(5)} ${x.max.toFixed(1).padStart(7)} ${x.ms.toFixed(0).padStart(7)}  ${k}\n`,
    );
}

const main = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
rmSync(reportFile, { force: true });
print('main thread', main);
let worker: Report | undefined;
try {
  worker = JSON.parse(readFileSync(`${reportFile}.worker`, 'utf8')) as Report;
  rmSync(`${reportFile}.worker`, { force: true });
} catch {
  process.stdout.write('\n(no report from an OCPP worker thread: ocpp.thread main?)\n');
}
if (worker) {
  // The worker recorded from its start: keep the traffic window (wall clock), as the main thread did.
  const w = worker;
  const inWindow = (t: number) => w.timeOrigin + t >= traffic.from && w.timeOrigin + t <= traffic.to;
  print('OCPP worker thread (stalls in the traffic window; the work totals cover its whole life)', {
    ...w,
    elapsedS: (traffic.to - traffic.from) / 1000,
    stalls: w.stalls.filter((x) => inWindow(x.t)),
  });
}
process.exit(0);
