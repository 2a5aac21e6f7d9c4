import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

export interface CheckpointerOptions {
  readonly path: string;
  /** How often the WAL is copied back into the database file, ms. */
  readonly everyMs?: number;
  /**
   * WAL frames (pages) after which the worker runs a RESTART checkpoint: the passive checkpoints kept up, but commits came
   * without a gap, so the WAL never started over and only grows.
   */
  readonly restartAfterFrames?: number;
  /**
   * The WAL was `restartAfterFrames` long and the worker ran a RESTART checkpoint so that the next
   * commit starts it over (`framesBefore`: its length then; `ok`: false when a reader or writer kept
   * it busy beyond the worker's busy timeout, and the next pass tries again).
   */
  readonly onRestart?: (framesBefore: number, ok: boolean) => void;
  /** A checkpoint that failed (logged by the owner; the next one tries again). */
  readonly onError?: (message: string) => void;
}

export interface Checkpointer {
  /**
   * Closes the worker's connection, waiting (at most `waitMs`) until it is closed: the gateway's own
   * connection, closed next, is then the last one and leaves a checkpointed database without a WAL.
   */
  stop(waitMs?: number): void;
}

// The worker is plain CommonJS given as text: the same code runs under tsx, from dist/ and in vitest,
// with no second entry file to build or resolve.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const db = new Database(workerData.path, { fileMustExist: true });
// A RESTART waits here, in the worker, for the gateway's connections to finish their transactions.
db.pragma('busy_timeout = 5000');
let stopping = false;
let passes = 0;
let lastLog = -1;
// A passive checkpoint copies what was committed when it began; the gateway's next commit starts the WAL
// over only if nothing was committed meanwhile. So passes follow each other until one ends in a gap
// between commits (the WAL stops growing or starts over), then the worker sleeps.
function run() {
  if (stopping) return;
  let again = false;
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    if (workerData.debug) parentPort.postMessage({ debug: r });
    again = r.log > lastLog && r.log > 0 && passes < workerData.maxPasses;
    lastLog = r.log;
    passes = again ? passes + 1 : 0;
    if (!again && r.log > workerData.restartAfterFrames) {
      // Commits came without a gap, so the WAL never started over and only grows. A RESTART copies the few
      // frames the passive passes left and makes the next commit start the WAL from its beginning. It runs
      // here, not on a gateway connection, so no event loop waits for the others' transactions.
      const x = db.pragma('wal_checkpoint(RESTART)')[0];
      parentPort.postMessage({ restart: { framesBefore: r.log, ok: x.busy === 0 } });
    }
  } catch (err) {
    parentPort.postMessage({ error: String((err && err.message) || err) });
  }
  if (again) setImmediate(run);
  else {
    lastLog = -1;
    setTimeout(run, workerData.everyMs);
  }
}
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  stopping = true;
  try { db.close(); } catch {}
  Atomics.store(workerData.closed, 0, 1);
  Atomics.notify(workerData.closed, 0);
  process.exit(0);
});
setTimeout(run, workerData.everyMs);
`;

/**
 * Copies the WAL back into the database file from a worker thread with its own connection, so that
 * the gateway's commits never run a checkpoint (and its fsyncs) on the event loop: with SQLite's
 * automatic checkpoint every thousandth page, one commit in ~150 took 5-20 ms at 1000 chargers.
 * The gateway's connection sets `wal_autocheckpoint = 0`. Crash safety is SQLite's own: a checkpoint
 * only copies committed frames, and a kill at any moment leaves a WAL that the next open replays.
 */
export function startCheckpointer(opts: CheckpointerOptions): Checkpointer {
  const closed = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      sqlite: createRequire(import.meta.url).resolve('better-sqlite3'),
      path: opts.path,
      everyMs: opts.everyMs ?? 500,
      restartAfterFrames: opts.restartAfterFrames ?? 16_384,
      maxPasses: 50,
      debug: process.env.GK_CHECKPOINT_DEBUG === '1',
      closed,
    },
  });
  // Never keeps the process alive; the gateway closes its database at stop.
  worker.unref();
  worker.on('message', (m: { error?: string; debug?: unknown; restart?: { framesBefore: number; ok: boolean } }) => {
    if (m.error) opts.onError?.(m.error);
    if (m.restart && !stopped) opts.onRestart?.(m.restart.framesBefore, m.restart.ok);
    if (m.debug) process.stderr.write(`checkpoint ${JSON.stringify(m.debug)}\n`);
  });
  worker.on('error', (err) => opts.onError?.(err.message));
  let stopped = false;
  return {
    stop(waitMs = 2000) {
      if (stopped) return;
      stopped = true;
      worker.postMessage('stop');
      // Blocks the caller for the worker's current pass at most (a gateway stopping, or a test).
      Atomics.wait(closed, 0, 0, waitMs);
    },
  };
}
