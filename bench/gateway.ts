/**
 * The gateway under test, run exactly as an installed one: `gridkeeper run
 * --config <file>` in its own process (src/cli/main.ts → createGateway), on
 * a config generated per bench and checked with the same schema first. Its
 * memory is read from /proc (VmRSS) while it works: no forced GC, no hooks in
 * the gateway.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatErrors, validateConfig } from '../src/config/load.js';
import { freePort } from './peers/ports.js';

export interface GatewayUnderTest {
  readonly pid: number;
  /** ws://127.0.0.1:<port><path>; chargers append `/<id>`. */
  readonly ocppUrl: string;
  readonly apiUrl: string;
  /** Resident set size of the gateway process now, bytes. */
  rss(): number;
  /** CPU time (user + system) the gateway process has used so far, ms: a figure the machine's other load hardly moves. */
  cpuMs(): number;
  stop(): Promise<void>;
}

/** GK_BENCH_GATEWAY_ROOT runs another checkout's gateway against these peers (e.g. a branch before merging it). */
const ROOT = process.env.GK_BENCH_GATEWAY_ROOT ?? fileURLToPath(new URL('..', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nodeArgs = () => (process.env.GK_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

/**
 * `raw` is a site file as an object; store, ports and log level are filled in here (`api` settings other than
 * host and port are kept). `env` is added to the gateway's environment (e.g. GRIDKEEPER_ADMIN_KEY).
 */
export async function startGateway(
  raw: Record<string, unknown>,
  label: string,
  env: Record<string, string> = {},
): Promise<GatewayUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), `gk-bench-${label}-`));
  const ocppPort = await freePort();
  const apiPort = await freePort();
  const ocpp = (raw.ocpp ?? {}) as Record<string, unknown>;
  const config = {
    ...raw,
    ocpp: { ...ocpp, host: '127.0.0.1', port: ocppPort },
    api: { ...((raw.api ?? {}) as Record<string, unknown>), host: '127.0.0.1', port: apiPort },
    store: { path: join(dir, 'gridkeeper.db') },
    log: { level: 'warn' },
  };
  const checked = validateConfig(config, { ...process.env, ...env });
  if (!checked.ok) throw new Error(`bench config invalid:\n${formatErrors(checked.errors)}`);
  const file = join(dir, 'site.yaml');
  // JSON is YAML: the file is read by the same loader as any site file.
  writeFileSync(file, JSON.stringify(config, null, 2));
  const logFile = join(dir, 'gateway.log');
  const out = openSync(logFile, 'a');
  const child: ChildProcess = spawn(
    process.execPath,
    // GK_BENCH_NODE_ARGS: diagnostics only (e.g. `--cpu-prof`, the stall probe of bench/proxy-stalls.ts).
    ['--import', 'tsx', ...nodeArgs(), join(ROOT, 'src/cli/main.ts'), 'run', '--config', file],
    { cwd: ROOT, stdio: ['ignore', out, out], env: { ...process.env, ...env, NODE_ENV: 'production' } },
  );
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`gateway exited ${child.exitCode}:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
    }
    const r = await fetch(`${apiUrl}/healthz`).catch(() => undefined);
    if (r?.status === 200) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway not ready in 90 s:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
    }
    await sleep(100);
  }
  const pid = child.pid as number;
  return {
    pid,
    ocppUrl: `ws://127.0.0.1:${ocppPort}${String(ocpp.path ?? '/ocpp')}`,
    apiUrl,
    rss: () => {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return Number(m?.[1] ?? Number.NaN) * 1024;
    },
    cpuMs: () => {
      // /proc/<pid>/stat: fields 14 and 15 (utime, stime) in clock ticks (100 Hz on Linux), after the ")" of the name.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) * 10;
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 12_000);
        await exited;
        clearTimeout(t);
      }
      if (process.env.GK_BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
    },
  };
}
