/**
 * Request/answer over the IPC channel of a forked bench peer. The peers run
 * in their own process so that the gateway, the chargers/CMS/meter and the
 * harness do not share an event loop (a busy peer would otherwise delay the
 * gateway, and the reverse).
 */
import { type ChildProcess, fork } from 'node:child_process';

type Handler = (args: never) => Promise<unknown> | unknown;

interface Request {
  readonly id: number;
  readonly op: string;
  readonly args: unknown;
}

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** Child side: answer requests with `handlers[op](args)`. */
export function serve(handlers: Record<string, Handler>): void {
  process.on('message', (m: Request) => {
    const h = handlers[m.op];
    const reply = (r: Reply) => process.send?.(r);
    if (!h) {
      reply({ id: m.id, ok: false, error: `unknown op ${m.op}` });
      return;
    }
    Promise.resolve()
      .then(() => h(m.args as never))
      .then(
        (result) => reply({ id: m.id, ok: true, result }),
        (err: unknown) => reply({ id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
      );
  });
  // The harness may die without stopping us: never outlive it.
  process.on('disconnect', () => process.exit(0));
}

/** Child side: an unsolicited event to the harness (e.g. the chargers' total draw, relayed to the meter). */
export function emit(event: string, data: unknown): void {
  process.send?.({ event, data });
}

export interface Peer {
  readonly pid: number;
  on(event: string, listener: (data: unknown) => void): void;
  request<T>(op: string, args?: unknown): Promise<T>;
  stop(): Promise<void>;
}

/** Parent side: fork `script` (a .ts file next to this one) under tsx. */
export function forkPeer(script: string): Peer {
  const child: ChildProcess = fork(new URL(script, import.meta.url).pathname, [], {
    execArgv: ['--import', 'tsx', '--max-old-space-size=2048'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let seq = 0;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const listeners = new Map<string, (data: unknown) => void>();
  child.on('message', (r: Reply | { event: string; data: unknown }) => {
    if ('event' in r) {
      listeners.get(r.event)?.(r.data);
      return;
    }
    const w = waiting.get(r.id);
    if (!w) return;
    waiting.delete(r.id);
    if (r.ok) w.resolve(r.result);
    else w.reject(new Error(r.error));
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      for (const w of waiting.values()) w.reject(new Error(`${script} exited ${code}`));
      waiting.clear();
      resolve();
    }),
  );
  return {
    pid: child.pid as number,
    on(event, listener) {
      listeners.set(event, listener);
    },
    request<T>(op: string, args?: unknown): Promise<T> {
      const id = seq++;
      return new Promise<T>((resolve, reject) => {
        if (!child.connected) {
          reject(new Error(`${script} is not running`));
          return;
        }
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, op, args });
      });
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
