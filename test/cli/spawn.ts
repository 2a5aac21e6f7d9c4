import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';

/** `gridkeeper <args>` as a child process (tsx, like `npm run gridkeeper`). */
export function gridkeeper(args: readonly string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: { ...process.env, ...env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run to the end (or kill after `timeoutMs`) and collect the output. */
export function runToEnd(
  args: readonly string[],
  timeoutMs = 60_000,
  env: Record<string, string> = {},
): Promise<Finished> {
  const child = gridkeeper(args, env);
  return collect(child, timeoutMs);
}

export function collect(child: ChildProcess, timeoutMs = 60_000): Promise<Finished> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      // Let the pipes drain.
      setImmediate(() => done({ code, stdout, stderr }));
    });
  });
}

/** A port that is free now. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, host, () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => done(port));
    });
  });
}

/** Hold a port, as another program would. */
export function occupy(host = '127.0.0.1'): Promise<Server> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, host, () => done(s));
  });
}

/** Whether something listens on the port (a bind attempt fails). */
export function listening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((done) => {
    const s = createServer();
    s.once('error', () => done(true));
    s.listen(port, host, () => s.close(() => done(false)));
  });
}
