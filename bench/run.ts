/**
 * `npm run bench`: runs every benchmark module, prints a table and writes
 * bench/results.json. Benchmarks are measurements, not tests: they never
 * fail on a missed target, they report it (`met: false`).
 *
 * Each module exports `run(): Promise<BenchResult[]>`. Baselines are measured
 * in the same run (these machines are noisy), e.g. a direct OCPP connection
 * beside the proxied one, and `met` is decided on p99 (or the worst case),
 * never on a mean. `npm run bench -- ocpp reaction` runs the named modules.
 *
 * The end-to-end modules (reaction, ocpp, grid, api, mqtt) run the gateway as
 * `gridkeeper run` in its own process (bench/gateway.ts) and its peers
 * (Modbus meter, chargers, CMS, SSE clients, MQTT clients, influxd, the VTN
 * simulator) elsewhere, speaking the protocols with their own codecs
 * (bench/peers/) or libraries; no bench wires the core by hand.
 *
 * Environment: GK_BENCH_KEEP=1 keeps each gateway's config, log and database
 * in its temp directory; GK_BENCH_DEBUG=1 prints the reaction, grid and api benches' steps;
 * GK_BENCH_GATEWAY_ROOT=<checkout> runs another checkout's gateway against
 * these peers (e.g. a branch before merging it).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import type { BenchResult } from './types.js';

interface BenchModule {
  readonly name: string;
  readonly load: () => Promise<{ run: () => Promise<BenchResult[]> }>;
  /** Runs only when named (`npm run bench -- <name>`). */
  readonly optional?: boolean;
}

const MODULES: BenchModule[] = [
  { name: 'demo', load: () => import('./demo.js') },
  { name: 'control', load: () => import('./allocator.js') },
  { name: 'reaction', load: () => import('./reaction.js') },
  { name: 'closed-loop', load: () => import('./closed-loop.js') },
  { name: 'ocpp', load: () => import('./proxy.js') },
  { name: 'ocpp-5000', load: () => import('./proxy-scale.js'), optional: true },
  { name: 'modbus', load: () => import('./modbus-run.js') },
  { name: 'mqtt', load: () => import('./mqtt.js') },
  { name: 'grid', load: () => import('./grid.js') },
  { name: 'dr-meter', load: () => import('./dr-meter.js') },
  { name: 'api', load: () => import('./api.js') },
  { name: 'soak-kill', load: () => import('./soak-kill.js') },
];

interface Written {
  generatedAt: string;
  machine: Record<string, unknown>;
  modules: Record<string, { seconds: number; loadAvg1m: number; at: string }>;
  results: Array<BenchResult & { module: string }>;
  errors: Array<{ module: string; error: string }>;
}

function fmt(n: number | undefined): string {
  if (n === undefined) return '';
  if (Math.abs(n) >= 1000) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(3);
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const results: Array<BenchResult & { module: string }> = [];
  const errors: Array<{ module: string; error: string }> = [];
  // Other work on a shared machine moves every figure: the load is recorded with each module.
  const modules: Record<string, { seconds: number; loadAvg1m: number; at: string }> = {};
  for (const m of MODULES) {
    if (only.length > 0 ? !only.includes(m.name) : m.optional) continue;
    process.stderr.write(`bench: ${m.name}...\n`);
    const t0 = performance.now();
    try {
      const mod = await m.load();
      for (const r of await mod.run()) results.push({ module: m.name, ...r });
    } catch (err) {
      errors.push({ module: m.name, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      process.stderr.write(`bench: ${m.name} failed: ${String(err)}\n`);
    }
    modules[m.name] = {
      seconds: Math.round((performance.now() - t0) / 1000),
      loadAvg1m: loadavg()[0] ?? Number.NaN,
      at: new Date().toISOString(),
    };
  }
  const rows = results.map((r) => [
    r.module,
    r.name,
    `${fmt(r.value)} ${r.unit}`,
    r.baseline !== undefined ? `${fmt(r.baseline)} ${r.unit}` : '',
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'yes' : 'NO',
  ]);
  const head = ['module', 'metric', 'value', 'baseline (same run)', 'target', 'met'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  process.stdout.write(`${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const r of rows) process.stdout.write(`${line(r.map(String))}\n`);
  // A partial run (`npm run bench -- ocpp`) replaces its modules' rows and keeps the others'.
  const file = new URL('./results.json', import.meta.url);
  const prior = only.length > 0 && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<Written>) : {};
  const ran = new Set(Object.keys(modules));
  const out: Written = {
    generatedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    modules: { ...prior.modules, ...modules },
    results: [...(prior.results ?? []).filter((r) => !ran.has(r.module)), ...results],
    errors: [...(prior.errors ?? []).filter((e) => !ran.has(e.module)), ...errors],
  };
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write('\nwritten bench/results.json\n');
  // Sims and servers are stopped by each module; exit explicitly so a stray
  // handle in a library cannot keep the benchmark from finishing.
  process.exit(errors.length > 0 ? 1 : 0);
}

await main();
