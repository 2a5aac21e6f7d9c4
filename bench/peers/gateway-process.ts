/**
 * `gridkeeper run --config <file>` as a child process that can be killed
 * (SIGKILL, no chance to flush anything) and started again on the same
 * config and data directory, the way a supervisor restarts a crashed
 * gateway. Nothing of the gateway is imported: it is started by its path.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GatewayProcessOptions {
  /** Checkout whose gateway runs. */
  readonly root: string;
  readonly configFile: string;
  /** Every run appends its output here. */
  readonly logFile: string;
  /** Polled until it answers 200 (the gateway is up). */
  readonly healthUrl: string;
  /**
   * `dist`: the built `dist/src/cli/main.js` (starts in ~3 s; build first, or a stale build is tested);
   * `tsx`: the sources through tsx (~9 s on a busy machine).
   */
  readonly entry: 'dist' | 'tsx';
  readonly readyTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class GatewayProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** Completed starts. */
  starts = 0;

  constructor(private readonly o: GatewayProcessOptions) {
    if (o.entry === 'dist' && !existsSync(this.distMain())) {
      throw new Error(`${this.distMain()} is missing: run \`npm run build\` first (or use entry 'tsx')`);
    }
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the gateway and resolves once its health endpoint answers 200. */
  async start(): Promise<void> {
    if (this.running) throw new Error('gateway already running');
    const out = openSync(this.o.logFile, 'a');
    const args =
      this.o.entry === 'dist'
        ? [this.distMain(), 'run', '--config', this.o.configFile]
        : ['--import', 'tsx', join(this.o.root, 'src/cli/main.ts'), 'run', '--config', this.o.configFile];
    const child = spawn(process.execPath, args, {
      cwd: this.o.root,
      stdio: ['ignore', out, out],
      env: { ...process.env, NODE_ENV: 'production' },
    });
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', () => r()));
    const deadline = Date.now() + (this.o.readyTimeoutMs ?? 60_000);
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`gateway exited (${child.exitCode ?? child.signalCode}) while starting:\n${this.logTail()}`);
      }
      const r = await fetch(this.o.healthUrl).catch(() => undefined);
      if (r?.status === 200) break;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        await this.exited;
        throw new Error(`gateway not ready in ${this.o.readyTimeoutMs ?? 60_000} ms:\n${this.logTail()}`);
      }
      await sleep(50);
    }
    this.starts++;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** kill -9: the process gets no chance to close sockets, commit or flush. */
  async kill(): Promise<void> {
    if (!this.running) throw new Error(`gateway died on its own before the kill:\n${this.logTail()}`);
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** A clean stop (SIGTERM), SIGKILL after 12 s. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGTERM');
    const t = setTimeout(() => this.child?.kill('SIGKILL'), 12_000);
    await this.exited;
    clearTimeout(t);
  }

  logTail(chars = 3000): string {
    return existsSync(this.o.logFile) ? readFileSync(this.o.logFile, 'utf8').slice(-chars) : '(no log)';
  }

  private distMain(): string {
    return join(this.o.root, 'dist/src/cli/main.js');
  }
}
