/**
 * A real InfluxDB 1.x (Debian `influxdb`, /usr/bin/influxd) in a temp dir, on
 * the given ports or free ones, for the export bench and the InfluxDB adapter
 * tests. Imports nothing of the gateway. Fails loudly when the binary is
 * missing: CI must install it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';

export const INFLUXD = '/usr/bin/influxd';

export interface Influxd {
  readonly url: string;
  readonly ports: { readonly http: number; readonly rpc: number };
  query(db: string, q: string): Promise<unknown>;
  stop(): Promise<void>;
}

export async function startInfluxd(dir: string, given?: { http: number; rpc: number }): Promise<Influxd> {
  if (!existsSync(INFLUXD)) throw new Error(`${INFLUXD} missing: apt-get install -y influxdb`);
  const ports = { http: given?.http ?? (await freePort()), rpc: given?.rpc ?? (await freePort()) };
  for (const d of ['meta', 'data', 'wal']) mkdirSync(join(dir, d), { recursive: true });
  const conf = join(dir, 'influxdb.conf');
  writeFileSync(
    conf,
    `reporting-disabled = true
bind-address = "127.0.0.1:${ports.rpc}"
[meta]
  dir = "${join(dir, 'meta')}"
[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:${ports.http}"
  log-enabled = false
[monitor]
  store-enabled = false
[logging]
  level = "error"
`,
  );
  const proc: ChildProcess = spawn(INFLUXD, ['-config', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (c) => (stderr += String(c)));
  const url = `http://127.0.0.1:${ports.http}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`influxd exited: ${stderr}`);
    const r = await fetch(`${url}/ping`).catch(() => undefined);
    if (r?.status === 204) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`influxd did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    ports,
    async query(db, q) {
      const r = await fetch(`${url}/query?db=${encodeURIComponent(db)}&q=${encodeURIComponent(q)}`);
      return r.json();
    },
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
