/**
 * OCPP proxy, end to end (`npm run bench -- ocpp`). One peer process holds a
 * CMS and N OCPP 1.6J chargers with interleaved traffic (boot, heartbeats,
 * sessions with MeterValues, CMS → charger remote calls). The same traffic
 * runs straight against the CMS (the baseline, same run) and through the
 * gateway (`gridkeeper run` in its own process):
 *  - added latency per message = proxied percentile − direct percentile;
 *  - RSS per charger = (gateway RSS during traffic − RSS before any charger
 *    connected) / N, read from /proc, no forced GC;
 *  - growth per 1000 reconnects of one charger after a warm-up: live heap after a forced GC (read through the
 *    gateway's inspector, proxy-heap.ts) and RSS.
 */
import { randomBytes } from 'node:crypto';
import { startGateway } from './gateway.js';
import { forkPeer } from './peers/ipc.js';
import { freePort } from './peers/ports.js';
import { connectHeapProbe } from './proxy-heap.js';
import { type BenchResult, percentile } from './types.js';

export interface ProxyBenchOptions {
  readonly chargers?: number;
  readonly connectRampMs?: number;
  readonly durationMs?: number;
  readonly meterIntervalMs?: number;
  readonly heartbeatIntervalMs?: number;
  readonly remoteEveryMs?: number;
  readonly reconnectWarmup?: number;
  /** 0 leaves the reconnect figure out. */
  readonly reconnectMeasured?: number;
  /** The gateway's `control` section (diagnostics, e.g. a longer `coalesceMs`); the judged run uses the defaults. */
  readonly control?: Record<string, unknown>;
  /** More `ocpp` settings for the gateway (diagnostics, e.g. the handshake guard's limits). */
  readonly ocpp?: Record<string, unknown>;
  /** Diagnostics (bench/proxy-stalls.ts): called with the gateway's pid when the proxied traffic starts and ends. */
  readonly onTraffic?: (pid: number, phase: 'start' | 'end') => void;
}

interface TrafficResult {
  readonly samples: Record<string, Array<[number, number]>>;
  readonly errors: Record<string, number>;
  readonly connected: number;
  readonly cmsReceived: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 2 ** 20;

function pick(r: TrafficResult, fromMs: number, remote: boolean, action?: string): number[] {
  const out: number[] = [];
  for (const [name, xs] of Object.entries(r.samples)) {
    if (name.startsWith('remote ') !== remote) continue;
    if (action !== undefined && name !== action) continue;
    for (const [t, ms] of xs) if (t >= fromMs) out.push(ms);
  }
  return out;
}

/** Least-squares slope of y over x. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    den += ((xs[i] as number) - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

/** The gateway's site file for the proxy bench (also used by the memory diagnostic, proxy-memory.ts). */
export function gatewayConfig(
  n: number,
  cmsUrl: string,
  control?: Record<string, unknown>,
  ocpp?: Record<string, unknown>,
): Record<string, unknown> {
  return {
    ...(control ? { control } : {}),
    // No grid meter here: the failsafe budget is the whole site, so the proxy's traffic is not shaped by an alarm.
    site: { id: 'proxy-bench', limitW: n * 32 * 690, failsafeLimitW: n * 32 * 690 },
    chargers: Array.from({ length: n }, (_, i) => ({ id: `CP${i}` })),
    ocpp: {
      securityProfile: 0,
      unknownChargers: 'reject',
      upstream: { url: cmsUrl },
      // Diagnostics: GK_BENCH_OCPP_THREAD=main|worker compares the proxy on the main thread with its worker thread.
      ...(process.env.GK_BENCH_OCPP_THREAD ? { thread: process.env.GK_BENCH_OCPP_THREAD } : {}),
      ...ocpp,
    },
  };
}

const fmt = (x: number) => x.toFixed(3);

/** The gateway's own count of sockets it dropped in the WebSocket handshake and of refused chargers (/metrics). */
async function handshakeCounters(apiUrl: string, key: string): Promise<string> {
  try {
    const text = await (await fetch(`${apiUrl}/metrics`, { headers: { authorization: `Bearer ${key}` } })).text();
    const lines = text
      .split('\n')
      .filter((l) => /^gridkeeper_ocpp_(handshakes_dropped_total|refused_connections_total)/.test(l));
    return lines.length > 0 ? lines.join(', ') : 'none reported';
  } catch (err) {
    return `metrics unreadable (${(err as Error).message})`;
  }
}

export async function run(opts: ProxyBenchOptions = {}): Promise<BenchResult[]> {
  const n = opts.chargers ?? 1000;
  const traffic = {
    n,
    connectRampMs: opts.connectRampMs ?? 10_000,
    durationMs: opts.durationMs ?? 40_000,
    meterIntervalMs: opts.meterIntervalMs ?? 10_000,
    heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 60_000,
    remoteEveryMs: opts.remoteEveryMs ?? 100,
    // Sessions of a depot are hours long; these are shortened so that starts and stops fall in the window.
    sessionMs: [20_000, 90_000] as const,
    sessionGapMs: [5_000, 15_000] as const,
  };
  // Steady state: every charger connected and booted; the connect ramp is reported apart.
  const steadyFrom = traffic.connectRampMs + 2000;
  const peer = forkPeer('./traffic-peer.ts');
  const out: BenchResult[] = [];
  try {
    const { url: cmsUrl } = await peer.request<{ url: string }>('startCms');
    const direct = await peer.request<TrafficResult>('traffic', { ...traffic, url: cmsUrl });

    const key = randomBytes(24).toString('hex');
    const gw = await startGateway(gatewayConfig(n, cmsUrl, opts.control, opts.ocpp), 'proxy', {
      GRIDKEEPER_ADMIN_KEY: key,
    });
    let handshakes = '';
    let proxied: TrafficResult;
    const rss: Array<[number, number]> = [];
    let rssBefore: number;
    let cpuMs: number;
    let idleCpuPerS: number;
    let trafficS: number;
    try {
      await sleep(1000);
      // The gateway's idle work (control loop, telemetry) is reported beside the figure, not subtracted:
      // a few seconds after start are not a fair sample of it.
      const idle0 = gw.cpuMs();
      const idleT0 = performance.now();
      await sleep(3000);
      idleCpuPerS = ((gw.cpuMs() - idle0) / (performance.now() - idleT0)) * 1000;
      rssBefore = gw.rss();
      const t0 = performance.now();
      const sampler = setInterval(() => rss.push([performance.now() - t0, gw.rss()]), 1000);
      const cpu0 = gw.cpuMs();
      opts.onTraffic?.(gw.pid, 'start');
      try {
        proxied = await peer.request<TrafficResult>('traffic', { ...traffic, url: gw.ocppUrl });
      } finally {
        clearInterval(sampler);
        opts.onTraffic?.(gw.pid, 'end');
      }
      cpuMs = gw.cpuMs() - cpu0;
      trafficS = (performance.now() - t0) / 1000;
      handshakes = await handshakeCounters(gw.apiUrl, key);
    } finally {
      await gw.stop();
    }

    const trafficNote = `${n} chargers, connect ramp ${traffic.connectRampMs / 1000} s + ${traffic.durationMs / 1000} s; MeterValues every ${traffic.meterIntervalMs / 1000} s in sessions of ${traffic.sessionMs[0] / 1000}–${traffic.sessionMs[1] / 1000} s, heartbeat every ${traffic.heartbeatIntervalMs / 1000} s, a CMS remote call every ${traffic.remoteEveryMs} ms`;
    const count = (r: TrafficResult) => Object.values(r.samples).reduce((s, x) => s + x.length, 0);
    const errs = (r: TrafficResult) => JSON.stringify(r.errors);
    for (const [label, remote, from] of [
      ['charger → CMS call', false, steadyFrom],
      ['CMS → charger call', true, steadyFrom],
      ['charger → CMS call incl. connect ramp', false, 0],
    ] as const) {
      const d = pick(direct, from, remote);
      const p = pick(proxied, from, remote);
      for (const q of [50, 99] as const) {
        const added = percentile(p, q) - percentile(d, q);
        const judged = q === 99 && !remote && from === steadyFrom;
        out.push({
          name: `added latency, ${label}, ${n} chargers interleaved, p${q}`,
          value: added,
          unit: 'ms',
          baseline: percentile(d, q),
          ...(judged ? { target: 'p99 <= 2 ms at 1000 chargers', met: n >= 1000 && added <= 2 } : {}),
          notes: `proxied p${q} ${fmt(percentile(p, q))} ms vs direct ${fmt(percentile(d, q))} ms (baseline column: direct), ${p.length} vs ${d.length} messages${q === 99 && from === steadyFrom && !remote ? `; ${trafficNote}; chargers connected: proxied ${proxied.connected}/${n}, direct ${direct.connected}/${n}; gateway handshake counters: ${handshakes}; proxied ${count(proxied)} msgs, errors ${errs(proxied)}; direct errors ${errs(direct)}` : ''}`,
        });
      }
    }
    // Per message type (not judged: the judged figure is the interleaved mix above).
    for (const a of Object.keys(proxied.samples).sort()) {
      const remote = a.startsWith('remote ');
      // Boots happen in the connect ramp: per type, every sample counts.
      const p = pick(proxied, 0, remote, a);
      const d = pick(direct, 0, remote, a);
      out.push({
        name: `added latency p99, ${remote ? a.replace('remote ', 'CMS → charger ') : a}, ${n} chargers (incl. ramp)`,
        value: percentile(p, 99) - percentile(d, 99),
        unit: 'ms',
        baseline: percentile(d, 99),
        notes: `p50 +${fmt(percentile(p, 50) - percentile(d, 50))} ms; ${p.length} vs ${d.length} messages`,
      });
    }

    const msgs = count(proxied);
    out.push({
      name: `gateway CPU per proxied message, ${n} chargers interleaved`,
      value: cpuMs / msgs,
      unit: 'ms',
      notes: `${cpuMs} ms CPU (user+system, /proc) in ${trafficS.toFixed(0)} s for ${msgs} round trips (idle before the chargers connected: ${idleCpuPerS.toFixed(0)} ms/s); includes the control loop and the gateway's own SetChargingProfile traffic; hardly moved by other load on the machine, unlike the latencies`,
    });
    const steady = rss.filter(([t]) => t >= steadyFrom).map(([, v]) => v);
    const peak = Math.max(...steady);
    const perCharger = (peak - rssBefore) / n / 1000;
    out.push({
      name: `gateway RSS per charger under traffic, ${n} chargers (peak)`,
      value: perCharger,
      unit: 'KB',
      target: '<= 100 KB per charger',
      met: perCharger <= 100,
      notes: `RSS before chargers ${(rssBefore / MiB).toFixed(1)} MiB, during traffic peak ${(peak / MiB).toFixed(1)} MiB, median ${(percentile(steady, 50) / MiB).toFixed(1)} MiB (${steady.length} samples, 1/s, /proc VmRSS, no forced GC)`,
    });

    const measured = opts.reconnectMeasured ?? 4000;
    if (measured > 0) out.push(...(await reconnects(peer, cmsUrl, opts.reconnectWarmup ?? 2000, measured)));
  } finally {
    await peer.request('stop').catch(() => {});
    await peer.stop();
  }
  return out;
}

/**
 * Growth per 1000 reconnects of one charger (through to the CMS), after a warm-up: the live heap after a forced
 * GC (judged; read through the inspector, see proxy-heap.ts) and RSS beside it.
 */
async function reconnects(
  peer: ReturnType<typeof forkPeer>,
  cmsUrl: string,
  warmup: number,
  measured: number,
): Promise<BenchResult[]> {
  const inspectPort = await freePort();
  const gw = await startGateway(gatewayConfig(1, cmsUrl), 'reconnect', {
    NODE_OPTIONS: `--inspect=127.0.0.1:${inspectPort}`,
  });
  const probe = await connectHeapProbe(inspectPort);
  try {
    const chunk = 500;
    let failed = 0;
    let ms = 0;
    for (let i = 0; i < warmup; i += chunk) {
      const r = await peer.request<{ failed: number }>('reconnect', { url: gw.ocppUrl, id: 'CP0', count: chunk });
      failed += r.failed;
    }
    const first = await probe.liveHeap();
    const threads = first.threads;
    const xs: number[] = [0];
    const heap: number[] = [first.heapUsed];
    const rss: number[] = [gw.rss()];
    for (let i = 0; i < measured; i += chunk) {
      const r = await peer.request<{ failed: number; ms: number }>('reconnect', {
        url: gw.ocppUrl,
        id: 'CP0',
        count: chunk,
      });
      failed += r.failed;
      ms += r.ms;
      xs.push(i + chunk);
      rss.push(gw.rss());
      heap.push((await probe.liveHeap()).heapUsed);
    }
    const heapPerThousand = (slope(xs, heap) * 1000) / MiB;
    const rssPerThousand = (slope(xs, rss) * 1000) / MiB;
    const raw = (ys: number[]) => (((ys[ys.length - 1] as number) - (ys[0] as number)) / MiB).toFixed(1);
    return [
      {
        name: 'gateway heap growth per 1000 reconnects of one charger (after warm-up, live heap after GC)',
        value: heapPerThousand,
        unit: 'MiB',
        target: '<= 5 MiB per 1000 reconnects',
        met: heapPerThousand <= 5,
        notes: `least-squares slope over ${measured} reconnects after ${warmup} warm-up (connect, BootNotification via the CMS, close); live heap of its ${threads} thread(s) (main and workers: the OCPP proxy's with ocpp.thread worker) read through the gateway's inspector after a forced full GC every ${chunk}; raw ${raw(heap)} MiB over ${measured}; ${failed} failed; ${((measured / ms) * 1000).toFixed(0)} reconnects/s`,
      },
      {
        name: 'gateway RSS growth per 1000 reconnects of one charger (after warm-up)',
        value: rssPerThousand,
        unit: 'MiB',
        notes: `least-squares slope of /proc VmRSS over the same reconnects (raw ${raw(rss)} MiB), forced GCs included; RSS keeps pages V8 has freed, so the judged figure is the live heap above`,
      },
    ];
  } finally {
    probe.close();
    await gw.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const r = await run(
    quick
      ? { chargers: 100, connectRampMs: 3000, durationMs: 12_000, reconnectWarmup: 500, reconnectMeasured: 1000 }
      : {},
  );
  for (const x of r)
    process.stdout.write(`${x.name}: ${x.value.toFixed(3)} ${x.unit} ${x.met ?? ''} ${x.notes ?? ''}\n`);
  process.exit(0);
}
