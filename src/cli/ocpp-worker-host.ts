import { createRequire } from 'node:module';
import { getPriority, setPriority } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Metric, MetricObjectWithValues, MetricValue } from 'prom-client';
import {
  type AuthoriseRequest,
  type CommandResult,
  type LinkStats,
  OcppOutbox,
  type OcppProxy,
  type OcppProxyConfig,
  type OcppProxyDeps,
  type OutboxChargerStatus,
} from '../../adapters/ocpp/index.js';
import type { Setpoint } from '../model/decision.js';
import type { EvChargingNeeds, GatewayEvents } from '../model/events.js';
import {
  Channel,
  type MetricInfo,
  type OcppWorkerData,
  Pending,
  type ToMain,
  type ToWorker,
  answer,
} from './ocpp-worker-protocol.js';

export interface OcppWorkerHostOptions {
  /** The gateway's SQLite file; the worker opens its own connection to it. */
  readonly dbPath: string;
  /** V8 young generation of the worker, MiB (gc-tuning.ts sizes it for the charger count); 0: V8's default. */
  readonly youngMiB?: number;
  /**
   * The worker died (an uncaught error, out of memory): the chargers are gone. Called once, after the host
   * has logged it and withdrawn every set-point sink.
   */
  readonly onFatal: (err: Error) => void;
  /** Niceness for the main thread once the worker runs (`ocpp.mainThreadNice`); 0 leaves it. */
  readonly mainThreadNice?: number;
}

const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};
/** One metrics snapshot from the worker serves every metric of one scrape. */
const METRICS_FRESH_MS = 250;

/**
 * The proxy's thread and the main thread share the CPUs: a control round, a telemetry write or a GC of the main
 * heap that holds a core while a charger message arrives makes the message wait for the other core, which the
 * rest of the machine uses too (bench ocpp, proxy-stalls: most worker stalls were waits in the runqueue). On
 * Linux a priority set with pid 0 is the calling thread's own; threads started later by the main thread inherit
 * it, the running ones (the proxy's, V8's and libuv's helpers) keep theirs. Raising niceness needs no privilege
 * (and cannot be undone without one), so it is only ever raised.
 */
function lowerMainThread(nice: number): void {
  if (nice <= 0) return;
  try {
    if (getPriority(0) < nice) setPriority(0, nice);
  } catch {
    // Not supported here (or refused): the proxy still runs, only without the head start.
  }
}

/**
 * The worker's entry beside this module: `.js` from dist/; `.ts` under tsx and vitest, started through a small
 * bootstrap that registers tsx in the worker first (a worker does not inherit the main thread's module hooks).
 */
function workerEntry(): { code: string | URL; eval: boolean } {
  const ext = extname(fileURLToPath(import.meta.url));
  const url = new URL(`./ocpp-worker${ext}`, import.meta.url);
  if (ext !== '.ts') return { code: url, eval: false };
  const require = createRequire(import.meta.url);
  const tsx = pathToFileURL(require.resolve('tsx/esm/api')).href.replace(/\.cjs$/, '.mjs');
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return { code, eval: true };
}

/**
 * The OCPP proxy in its own worker thread, seen from the main thread as the same `OcppProxy` with the same
 * deps contract: the worker's bus events are emitted on the gateway's bus, its set-point sinks are registered
 * with the dispatcher (a set-point is posted to the worker and the sink's answer awaited), callbacks and the
 * authoriser are called here. Getters are served from state the worker reports (connected chargers, CMS
 * links, counters; at most 500 ms old) or from the main thread's own connection to the outbox tables.
 */
export interface OcppWorkerHost extends OcppProxy {
  /** The running worker (diagnostics and tests). */
  worker(): Worker | undefined;
}

export function createOcppWorkerHost(
  cfg: OcppProxyConfig,
  deps: OcppProxyDeps,
  opts: OcppWorkerHostOptions,
): OcppWorkerHost {
  const { log, bus, dispatcher } = deps;
  const outbox = new OcppOutbox(deps.db);
  const stats: LinkStats = { forwarded: 0, answeredLocally: 0, replayed: 0, poisoned: 0, upstreamConnects: 0 };
  const unregister = new Map<string, () => void>();
  const pending = new Pending();
  let links: { connected: Set<string>; online: Set<string> } = { connected: new Set(), online: new Set() };
  let worker: Worker | undefined;
  let out: Channel<ToWorker> | undefined;
  let boundPort = 0;
  let stopping = false;
  let metricsSnapshot: { at: number; values: Promise<MetricObjectWithValues<MetricValue<string>>[]> } | undefined;
  const registered = new Set<string>();
  const path = `/${cfg.ocpp.path.replace(/^\/+|\/+$/g, '')}`.replace(/^\/$/, '');

  const send = (m: ToWorker) => {
    if (!out) throw new Error('OCPP worker not running');
    out.send(m);
  };
  const request = async (make: (id: number) => ToWorker): Promise<unknown> => {
    if (!out) throw new Error('OCPP worker not running');
    const { id, answer: a } = pending.open();
    out.send(make(id));
    return a;
  };
  // An answer for a worker that has gone meanwhile is dropped, never thrown (it would be an unhandled rejection).
  const reply = (m: ToWorker) => out?.send(m);

  function withdrawSinks(): void {
    for (const u of unregister.values()) u();
    unregister.clear();
  }

  function relog(line: string): void {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      log.warn({ line }, 'unreadable log line from the OCPP worker');
      return;
    }
    const { level, time: _time, msg, ...fields } = entry;
    const name = LEVELS[level as number] ?? 'info';
    log[name](fields, typeof msg === 'string' ? msg : '');
  }

  /** The worker's metrics on the gateway's registry: each scrape asks the worker once. */
  function registerMetrics(infos: readonly MetricInfo[]): void {
    if (!deps.metrics) return;
    const snapshot = () => {
      const now = deps.clock.now();
      if (!metricsSnapshot || now - metricsSnapshot.at > METRICS_FRESH_MS) {
        const values = (
          out
            ? (request((id) => ({ t: 'metrics', id })) as Promise<MetricObjectWithValues<MetricValue<string>>[]>)
            : Promise.resolve([])
        ).catch(() => []);
        metricsSnapshot = { at: now, values };
      }
      return metricsSnapshot.values;
    };
    for (const info of infos) {
      if (registered.has(info.name)) continue;
      registered.add(info.name);
      const metric = {
        ...info,
        async get() {
          const all = await snapshot();
          return all.find((m) => m.name === info.name) ?? { ...info, values: [] };
        },
        reset() {},
      };
      deps.metrics.registerMetric(metric as unknown as Metric);
    }
  }

  function handle(m: ToMain, started: { resolve: () => void; reject: (e: Error) => void }): void {
    switch (m.t) {
      case 'bus':
        bus.emit(m.event as keyof GatewayEvents, m.payload as never);
        return;
      case 'sink': {
        unregister.get(m.key)?.();
        unregister.delete(m.key);
        if (m.on) {
          const key = m.key;
          unregister.set(
            key,
            dispatcher.registerSink(key, {
              applySetpoint: async (sp: Setpoint) => {
                await request((id) => ({ t: 'setpoint', id, key, setpoint: sp }));
              },
            }),
          );
        }
        return;
      }
      case 'invalidate':
        dispatcher.invalidate(m.prefix);
        return;
      case 'links':
        links = { connected: new Set(m.state.connected), online: new Set(m.state.online) };
        return;
      case 'stats':
        Object.assign(stats, m.stats);
        return;
      case 'callback':
        if (m.name === 'needs') deps.onEvChargingNeeds?.(m.args[0] as EvChargingNeeds);
        else if (m.name === 'chargerError')
          deps.onChargerError?.(...(m.args as [string, number, string, string | undefined]));
        else deps.onFirmwareStatus?.(...(m.args as [string, string]));
        return;
      case 'authorise': {
        const hook = deps.authorise;
        answer(reply, m.id, async () => (hook ? hook(m.req as AuthoriseRequest) : undefined));
        return;
      }
      case 'reply':
        pending.settle(m);
        return;
      case 'log':
        relog(m.line);
        return;
      case 'ready':
        boundPort = m.port;
        registerMetrics(m.metrics);
        started.resolve();
        return;
      case 'startFailed':
        started.reject(new Error(m.error));
        return;
      case 'stopped':
        return;
    }
  }

  function summary(): OutboxChargerStatus[] {
    const result = new Map<string, OutboxChargerStatus>();
    for (const id of links.connected)
      result.set(id, { chargerId: id, connected: true, upstreamOnline: links.online.has(id), pending: 0, parked: 0 });
    for (const b of outbox.backlog())
      result.set(b.chargerId, {
        ...b,
        connected: links.connected.has(b.chargerId),
        upstreamOnline: links.online.has(b.chargerId),
      });
    return [...result.values()].sort((a, b) => (a.chargerId < b.chargerId ? -1 : a.chargerId > b.chargerId ? 1 : 0));
  }

  const command =
    (name: 'remoteStart' | 'remoteStop' | 'setAvailability') =>
    async (req: unknown): Promise<CommandResult> => {
      try {
        return (await request((id) => ({ t: 'command', id, name, req }))) as CommandResult;
      } catch (err) {
        return { status: 'Rejected', detail: (err as Error).message };
      }
    };

  async function start(): Promise<void> {
    if (worker) throw new Error('OCPP worker already running');
    stopping = false;
    failed = false;
    const entry = workerEntry();
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(deps.env ?? {})) if (v !== undefined) env[k] = v;
    const data: OcppWorkerData = {
      cfg,
      dbPath: opts.dbPath,
      logLevel: log.level,
      env,
      authorise: deps.authorise !== undefined,
      ...(deps.authoriseTimeoutMs !== undefined ? { authoriseTimeoutMs: deps.authoriseTimeoutMs } : {}),
    };
    const w = new Worker(entry.code, {
      workerData: data,
      eval: entry.eval,
      ...(opts.youngMiB ? { resourceLimits: { maxYoungGenerationSizeMb: opts.youngMiB } } : {}),
    });
    worker = w;
    out = new Channel<ToWorker>(w);
    await new Promise<void>((resolve, reject) => {
      let ready = false;
      const started = {
        resolve: () => {
          ready = true;
          resolve();
        },
        reject,
      };
      w.on('message', (batch: ToMain[]) => {
        for (const m of batch) handle(m, started);
      });
      w.on('error', (err) => {
        if (!ready) return reject(err);
        fatal(err);
      });
      w.on('exit', (code) => {
        const err = new Error(`OCPP worker exited with code ${code}`);
        if (!ready) return reject(err);
        if (!stopping) fatal(err);
      });
      out?.send({ t: 'start' });
    }).catch(async (err: Error) => {
      await cleanup();
      throw err;
    });
    log.info({ url: `${cfg.ocpp.host}:${boundPort}${path}` }, 'OCPP proxy running in its own worker thread');
    lowerMainThread(opts.mainThreadNice ?? 0);
  }

  let failed = false;
  function fatal(err: Error): void {
    if (failed || stopping) return;
    failed = true;
    log.fatal(
      { err },
      'OCPP proxy worker died: chargers are disconnected and no set-point reaches them; the gateway must restart',
    );
    void cleanup();
    opts.onFatal(err);
  }

  async function cleanup(): Promise<void> {
    withdrawSinks();
    pending.failAll(new Error('OCPP worker stopped'));
    links = { connected: new Set(), online: new Set() };
    const w = worker;
    worker = undefined;
    out = undefined;
    if (w) await w.terminate();
  }

  return {
    id: 'ocpp',
    worker: () => worker,
    outbox,
    stats,
    port: () => boundPort,
    url: () => `${cfg.ocpp.securityProfile === 2 ? 'wss' : 'ws'}://${cfg.ocpp.host}:${boundPort}${path}`,
    connected: () => [...links.connected],
    upstreamOnline: (id) => links.online.has(id),
    parked: (limit, chargerId) => outbox.poisoned(limit, chargerId),
    outboxSummary: summary,
    retryParked(seqs) {
      const n = outbox.requeue(seqs);
      if (n > 0 && out) send({ t: 'kick' });
      return n;
    },
    start,
    async stop() {
      const w = worker;
      if (!w || !out) return;
      stopping = true;
      withdrawSinks();
      const exited = new Promise<void>((r) => w.once('exit', () => r()));
      const stopped = new Promise<void>((r) => {
        w.on('message', (batch: ToMain[]) => {
          if (batch.some((m) => m.t === 'stopped')) r();
        });
      });
      send({ t: 'stop' });
      // The proxy closes its sockets and the database; a worker that does not answer is ended anyway.
      await Promise.race([stopped, exited, new Promise((r) => setTimeout(r, 15_000))]);
      await cleanup();
    },
    commands: {
      remoteStart: command('remoteStart'),
      remoteStop: command('remoteStop'),
      setAvailability: command('setAvailability'),
    },
  };
}
