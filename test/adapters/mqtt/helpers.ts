import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect as netConnect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createGatewayBus } from '../../../src/bus/events.js';
import { MqttSchema, type MqttConfig, type MqttConfigInput } from '../../../src/config/sections/mqtt.js';
import type { Logger } from '../../../src/util/logger.js';

export function mqttConfig(input: MqttConfigInput): MqttConfig {
  return MqttSchema.parse({ enabled: true, ...input });
}

/** A logger whose JSON lines the test can inspect. */
export function captureLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, dest), lines };
}

export function busAndMetrics() {
  return { bus: createGatewayBus(), metrics: new Registry() };
}

export async function counterValue(metrics: Registry, name: string, labels: Record<string, string> = {}) {
  const m = metrics.getSingleMetric(name);
  if (!m) return 0;
  const data = await m.get();
  return data.values
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((s, v) => s + v.value, 0);
}

/** Poll a condition over real time (network I/O cannot run on the virtual clock). */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface Mosquitto {
  readonly port: number;
  stop(): Promise<void>;
}

export interface TlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** A throw-away CA and a server certificate for 127.0.0.1, made with openssl. */
export async function makeTlsFiles(dir: string): Promise<TlsFiles> {
  const f = (n: string) => join(dir, n);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await runTool('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '1',
    '-subj',
    '/CN=gk-test-ca',
  ]);
  await runTool('openssl', [
    'req',
    ...ec,
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
    '-subj',
    '/CN=127.0.0.1',
  ]);
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  await runTool('openssl', [
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.crt'),
    '-days',
    '1',
    '-extfile',
    f('san.ext'),
  ]);
  return { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key') };
}

/**
 * Debian's mosquitto on a free port; fails loudly when the package is not
 * installed. With `users` it runs with a password file and no anonymous
 * access; with `tls` it listens with TLS only.
 */
export async function startMosquitto(
  opts: { users?: Record<string, string>; port?: number; tls?: TlsFiles } = {},
): Promise<Mosquitto> {
  const port = opts.port ?? (await freePort());
  let args = ['-p', String(port)];
  let dir: string | undefined;
  if (opts.users || opts.tls) {
    dir = mkdtempSync(join(tmpdir(), 'gk-mosquitto-'));
    const lines = [
      // As root mosquitto would drop to user "mosquitto", which cannot read our temp files.
      `user ${userInfo().username}`,
      `listener ${port} 127.0.0.1`,
    ];
    if (opts.users) {
      const pwfile = join(dir, 'passwd');
      writeFileSync(pwfile, '');
      for (const [user, pass] of Object.entries(opts.users)) {
        await runTool('mosquitto_passwd', ['-b', pwfile, user, pass]);
      }
      chmodSync(pwfile, 0o600);
      lines.push('allow_anonymous false', `password_file ${pwfile}`);
    } else {
      lines.push('allow_anonymous true');
    }
    if (opts.tls) lines.push(`cafile ${opts.tls.ca}`, `certfile ${opts.tls.cert}`, `keyfile ${opts.tls.key}`);
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(conf, `${lines.join('\n')}\n`);
    args = ['-c', conf];
  }
  const proc: ChildProcess = spawn('mosquitto', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let spawnError: Error | undefined;
  proc.once('error', (err) => {
    spawnError = err;
  });
  const end = Date.now() + 5000;
  while (!(await portOpen(port))) {
    if (spawnError) {
      throw new Error(`cannot run mosquitto (apt-get install -y mosquitto mosquitto-clients): ${spawnError.message}`);
    }
    if (proc.exitCode !== null) throw new Error(`mosquitto exited with ${proc.exitCode}`);
    if (Date.now() > end) throw new Error('mosquitto did not open its port');
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    port,
    stop: async () => {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Run a mosquitto client tool; rejects with its stderr when it fails or is missing. */
export function runTool(cmd: string, args: string[], timeoutMs = 8000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error(`${cmd} not found (apt-get install -y mosquitto-clients)`));
      } else if (err && !stdout) {
        reject(new Error(`${cmd} failed: ${err.message} ${stderr}`));
      } else {
        resolve(stdout);
      }
    });
  });
}

/** `mosquitto_sub -v` output as topic -> last payload. */
export function parseSubOutput(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const i = line.indexOf(' ');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}
