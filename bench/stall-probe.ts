/**
 * Diagnostic, never on by default: preloaded into the gateway under test with `--import` (bench/gateway.ts,
 * GK_BENCH_NODE_ARGS; bench/proxy-stalls.ts sets it) to find what blocks its event loop. It records
 *  - stalls: a 1 ms interval timer that fires late by more than 2 ms (the loop was busy that long);
 *  - SQLite commits (better-sqlite3 transactions and auto-committed statements) and pragmas, timed;
 *  - control rounds, set-point audit flushes, telemetry appends (prototype wrappers, no edit of the gateway);
 *  - GC pauses (PerformanceObserver 'gc').
 * On exit it writes every stall with the recorded work that overlaps it, to GK_STALL_REPORT (a JSON file).
 * The wrappers cost a little per call; figures taken with the probe are for the breakdown, not the judged run.
 * In the OCPP proxy's worker thread (imported there through GK_OCPP_WORKER_IMPORT, src/cli/ocpp-worker.ts) it
 * records from the start (a worker gets no signals) and writes its report to `<GK_STALL_REPORT>.worker` every 2 s
 * with `timeOrigin`, so bench/proxy-stalls.ts can cut out the traffic window by wall-clock time.
 */
import { openSync, readSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { constants, monitorEventLoopDelay, PerformanceObserver, performance } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';
import { ControlLoop } from '../src/control/control-loop.js';
import { SetpointAudit } from '../src/store/setpoint-audit.js';
import { TelemetryStore } from '../src/store/telemetry-store.js';

const reportFile = process.env.GK_STALL_REPORT;
if (!reportFile) throw new Error('stall-probe: set GK_STALL_REPORT to the report file');

interface Span {
  readonly src: string;
  readonly t: number;
  readonly d: number;
}
const spans: Span[] = [];
const stalls: Array<{ t: number; d: number; cpuMs: number; runMs: number; waitMs: number }> = [];
// This thread's own time on a CPU and waiting for one (runqueue), ms, from /proc/thread-self/schedstat (Linux).
const schedFd = (() => {
  try {
    return openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return undefined;
  }
})();
const schedBuf = Buffer.alloc(128);
function sched(): { run: number; wait: number } {
  if (schedFd === undefined) return { run: Number.NaN, wait: Number.NaN };
  const n = readSync(schedFd, schedBuf, 0, schedBuf.length, 0);
  const [run, wait] = schedBuf.toString('latin1', 0, n).split(' ');
  return { run: Number(run) / 1e6, wait: Number(wait) / 1e6 };
}
const MIN_SPAN_MS = 0.5;
// Recording runs from the first SIGUSR2 (the traffic starts) to the second (it ends): start-up is left out.
let window: { from: number; to: number } = { from: Number.POSITIVE_INFINITY, to: Number.POSITIVE_INFINITY };
let loopDelayMs: Record<string, number> = {};
if (isMainThread)
  process.on('SIGUSR2', () => {
    if (window.from === Number.POSITIVE_INFINITY) {
      window = { from: performance.now(), to: Number.POSITIVE_INFINITY };
      delay.reset();
    } else {
      window = { from: window.from, to: performance.now() };
      loopDelayMs = { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 };
    }
  });
const recording = (t: number) => t >= window.from && t <= window.to;
const note = (src: string, t: number) => {
  const d = performance.now() - t;
  if (d >= MIN_SPAN_MS && recording(t)) spans.push({ src, t, d });
};

// better-sqlite3: every commit is a transaction or a statement run outside one.
const require = createRequire(import.meta.url);
const Database = require('better-sqlite3');
let depth = 0;
let firstSql: string | undefined;
const origTx = Database.prototype.transaction;
Database.prototype.transaction = function (this: unknown, fn: (...a: unknown[]) => unknown) {
  const tx = origTx.call(this, fn);
  const wrap = (variant: (...a: unknown[]) => unknown) =>
    function (this: unknown, ...args: unknown[]) {
      if (depth > 0) return variant.apply(this, args);
      depth++;
      firstSql = undefined;
      const t = performance.now();
      try {
        return variant.apply(this, args);
      } finally {
        depth--;
        note(`sqlite tx: ${firstSql ?? '?'}`, t);
      }
    };
  const out = wrap(tx);
  for (const k of ['deferred', 'immediate', 'exclusive'] as const)
    Object.defineProperty(out, k, { value: wrap(tx[k]) });
  return out;
};
const origPragma = Database.prototype.pragma;
Database.prototype.pragma = function (this: unknown, ...args: unknown[]) {
  const t = performance.now();
  try {
    return origPragma.apply(this, args);
  } finally {
    note(`sqlite pragma ${String(args[0])}`, t);
  }
};
const scratch = new Database(':memory:');
const Statement = Object.getPrototypeOf(scratch.prepare('SELECT 1'));
scratch.close();
for (const m of ['run', 'get', 'all'] as const) {
  const orig = Statement[m];
  Statement[m] = function (this: { source: string }, ...args: unknown[]) {
    const sql = this.source.replace(/\s+/g, ' ').slice(0, 60);
    if (depth > 0) {
      if (!/^(BEGIN|COMMIT|SAVEPOINT|RELEASE)/.test(sql)) firstSql ??= sql;
      return orig.apply(this, args);
    }
    const t = performance.now();
    try {
      return orig.apply(this, args);
    } finally {
      note(`sqlite ${m === 'run' ? 'autocommit' : 'read'}: ${sql}`, t);
    }
  };
}

function timeMethod(proto: Record<string, unknown>, name: string, label: string): void {
  const orig = proto[name] as (...a: unknown[]) => unknown;
  proto[name] = function (this: unknown, ...args: unknown[]) {
    const t = performance.now();
    try {
      return orig.apply(this, args);
    } finally {
      note(label, t);
    }
  };
}
timeMethod(ControlLoop.prototype as never, 'runRound', 'control round');
// A round the timers start runs in phases (a generator): each step of it is timed.
const loopProto = ControlLoop.prototype as unknown as Record<string, (...a: unknown[]) => Iterator<unknown>>;
const phases = loopProto.phases as (...a: unknown[]) => Iterator<unknown>;
loopProto.phases = function (this: unknown, ...args: unknown[]) {
  const it = phases.apply(this, args);
  let n = 0;
  return {
    next() {
      const t = performance.now();
      try {
        return it.next();
      } finally {
        note(`control round phase ${++n}`, t);
      }
    },
  } as Iterator<unknown>;
};
timeMethod(SetpointAudit.prototype as never, 'flush', 'set-point audit flush');
timeMethod(TelemetryStore.prototype as never, 'append', 'telemetry append');

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'gc major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'gc minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'gc incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'gc weakcb',
};
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1;
    if (e.duration >= MIN_SPAN_MS && recording(e.startTime))
      spans.push({ src: GC_KINDS[kind] ?? `gc ${kind}`, t: e.startTime, d: e.duration });
  }
}).observe({ entryTypes: ['gc'] });

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
let last = performance.now();
let lastCpu = process.cpuUsage();
let lastSched = sched();
const ticker = setInterval(() => {
  const now = performance.now();
  const cpu = process.cpuUsage();
  const sch = sched();
  // The timer is due 1 ms after the last tick; anything beyond that (and a timer's own 1 ms slack) is the loop busy,
  // or the process not on a CPU at all (a busy machine): the CPU time this process used meanwhile tells them apart
  // (it counts every thread, GC helpers and the checkpointer too).
  if (now - last > 3 && recording(last)) {
    const cpuMs = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
    stalls.push({ t: last, d: now - last, cpuMs, runMs: sch.run - lastSched.run, waitMs: sch.wait - lastSched.wait });
  }
  last = now;
  lastCpu = cpu;
  lastSched = sch;
}, 1);
ticker.unref();

// The WAL's size, sampled each second (bench/gateway.ts puts the database beside the site file): it should start
// over again and again under traffic, not grow towards the checkpointer's RESTART threshold.
const configAt = process.argv.indexOf('--config');
const walFile = configAt > 0 ? join(dirname(process.argv[configAt + 1] ?? ''), 'gridkeeper.db-wal') : undefined;
let walMaxBytes = 0;
const walSampler = setInterval(() => {
  if (!walFile || !recording(performance.now())) return;
  try {
    walMaxBytes = Math.max(walMaxBytes, statSync(walFile).size);
  } catch {}
}, 1000);
walSampler.unref();

function buildReport(): Record<string, unknown> {
  const elapsedS = (Math.min(window.to, performance.now()) - window.from) / 1000;
  spans.sort((a, b) => a.t - b.t);
  const report = stalls.map((s) => {
    const end = s.t + s.d;
    const overlaps: Record<string, number> = {};
    for (const sp of spans) {
      if (sp.t > end) break;
      const o = Math.min(end, sp.t + sp.d) - Math.max(s.t, sp.t);
      if (o > 0) overlaps[sp.src] = (overlaps[sp.src] ?? 0) + o;
    }
    return { ...s, overlaps };
  });
  const totals: Record<string, { n: number; ms: number; over2: number; max: number }> = {};
  for (const sp of spans) {
    const k = sp.src;
    const x = totals[k] ?? { n: 0, ms: 0, over2: 0, max: 0 };
    totals[k] = x;
    x.n++;
    x.ms += sp.d;
    if (sp.d > 2) x.over2++;
    x.max = Math.max(x.max, sp.d);
  }
  return {
    elapsedS,
    timeOrigin: performance.timeOrigin,
    loopDelayMs,
    walMaxMiB: walMaxBytes / 2 ** 20,
    totals,
    stalls: report,
  };
}

if (isMainThread) {
  process.on('exit', () => writeFileSync(reportFile, JSON.stringify(buildReport())));
} else {
  window = { from: 0, to: Number.POSITIVE_INFINITY };
  const file = `${reportFile}.worker`;
  setInterval(() => {
    loopDelayMs = { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 };
    writeFileSync(file, JSON.stringify(buildReport()));
  }, 2000).unref();
}
