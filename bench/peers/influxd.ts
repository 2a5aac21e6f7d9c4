/**
 * A real InfluxDB 1.x (Debian `influxdb`, /usr/bin/influxd) in a temp dir on
 * given ports, for the export bench. Imports nothing of the gateway (a copy
 * of what test/adapters/influx/influxd.ts does: benches do not import tests).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const INFLUXD = '/usr/bin/influxd';

export interface Influxd {
  readonly url: string;
  query(db: string, q: string): Promise<unknown>;
  stop(): Promise<void>;
}

export async function startInfluxd(dir: string, ports: { http: number; rpc: number }): Promise<Influxd> {
  if (!existsSync(INFLUXD)) throw new Error(`${INFLUXD} missing: apt-get install -y influxdb`);
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
