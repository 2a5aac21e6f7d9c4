import { existsSync, mkdirSync, statSync, accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';

/** A port the command will listen on, and how the operator changes it. */
export interface Listener {
  readonly port: number;
  readonly host: string;
  /** What listens there, e.g. "HTTP API". */
  readonly what: string;
  /** How to choose another port: a flag (`--http-port`) or a config key (`api.port in site.yaml`). */
  readonly change: string;
}

/**
 * A start-up failure an operator can fix: one line saying what is wrong and
 * how to fix it. The CLI prints it without a stack trace and exits non-zero.
 */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}

function portInUse(l: Listener): StartupError {
  return new StartupError(
    `port ${l.port} on ${l.host} (${l.what}) is already in use: stop what listens there (ss -ltnp 'sport = :${l.port}') or choose another port with ${l.change}`,
  );
}

/** Try to listen on a port and let go at once; resolves with the error code, if any. */
function probe(host: string, port: number): Promise<string | undefined> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => done(undefined)));
  });
}

/**
 * Check every fixed port before anything starts, so a port in use is
 * reported before the first simulator or server is up (and nothing has to
 * be torn down). Port 0 (any free port) is never checked.
 */
export async function checkPorts(listeners: readonly Listener[]): Promise<void> {
  const seen = new Map<number, Listener>();
  for (const l of listeners) {
    if (l.port === 0) continue;
    const twin = seen.get(l.port);
    if (twin) {
      throw new StartupError(
        `port ${l.port} is given twice (${twin.what} and ${l.what}): choose another with ${l.change}`,
        2,
      );
    }
    seen.set(l.port, l);
  }
  for (const l of seen.values()) {
    const code = await probe(l.host, l.port);
    if (code === 'EADDRINUSE') throw portInUse(l);
    if (code === 'EACCES') {
      throw new StartupError(
        `port ${l.port} (${l.what}) needs privileges: use a port above 1023 with ${l.change}, or grant CAP_NET_BIND_SERVICE`,
      );
    }
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      throw new StartupError(`cannot listen on ${l.host} (${l.what}): not an address of this machine; check --host`, 2);
    }
    if (code) throw new StartupError(`cannot listen on ${l.host}:${l.port} (${l.what}): ${code}`);
  }
}

/**
 * The database file must be a file in a directory we can write: a directory
 * given as the path, or an unwritable place, is named with the flag or key
 * that sets it.
 */
export function checkDatabasePath(path: string, change: string): void {
  if (path === ':memory:') return;
  const abs = resolve(path);
  if (existsSync(abs) && statSync(abs).isDirectory()) {
    throw new StartupError(
      `the database path ${abs} is a directory: give a file, e.g. ${abs.replace(/\/$/, '')}/gridkeeper.db (${change})`,
      2,
    );
  }
  const dir = dirname(abs);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new StartupError(
      `cannot create the database directory ${dir} (${(err as NodeJS.ErrnoException).code}): fix ${change}`,
      2,
    );
  }
  if (!statSync(dir).isDirectory()) throw new StartupError(`${dir} is not a directory: fix ${change}`, 2);
  try {
    accessSync(dir, constants.W_OK);
    if (existsSync(abs)) accessSync(abs, constants.R_OK | constants.W_OK);
  } catch {
    throw new StartupError(`the database ${abs} is not writable by this user: fix the permissions or ${change}`, 2);
  }
}

/**
 * One line for an error that escaped the checks above (a port taken between
 * the check and the listen, a device refusing at start): what, and where
 * to look. Known causes get their fix; anything else its message's first line.
 */
export function explainStartupError(err: unknown, listeners: readonly Listener[] = []): string {
  if (err instanceof StartupError) return err.message;
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  if (e?.code === 'EADDRINUSE') {
    const l = listeners.find((x) => x.port === e.port);
    if (l) return portInUse(l).message;
    return `port ${e.port ?? '?'} is already in use (${e.address ?? ''}): stop what listens there or choose another port`;
  }
  if (e?.code === 'ENOENT' && typeof (e as { path?: unknown }).path === 'string') {
    return `cannot read ${(e as { path: string }).path}: no such file (check --config)`;
  }
  if (e?.code === 'SQLITE_CANTOPEN') return `cannot open the database: ${e.message} (check store.path / --data-dir)`;
  const first = String(e?.message ?? err).split('\n')[0];
  return `start-up failed: ${first}`;
}
