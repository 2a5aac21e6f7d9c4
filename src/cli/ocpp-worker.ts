/**
 * The OCPP proxy's worker thread (`ocpp.thread: worker`): a composition of its own, so the proxy's event loop
 * and heap no longer share stalls with the control loop, telemetry, the API and the main heap's GC (issue 14:
 * added latency at p99). It opens its own connection to the gateway's SQLite file, its own logger (lines go to
 * the main thread's logger, so destination, format and redaction stay the gateway's) and a system clock; what
 * the proxy asks of the core (bus, dispatcher, callbacks, authoriser) goes through messages to
 * ocpp-worker-host.ts.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { Registry } from 'prom-client';
import type { SetpointSink } from '../model/adapter.js';
import {
  type AuthoriseRequest,
  type AuthoriserAnswer,
  type OcppProxy,
  createOcppProxy,
} from '../../adapters/ocpp/index.js';
import { SystemClock } from '../model/clock.js';
import type { Setpoint } from '../model/decision.js';
import type { GatewayBusPort } from '../ports/bus.js';
import { SessionStore } from '../store/session-store.js';
import { preferImmediateTransactions } from './sqlite-shared.js';
import { createLogger } from '../util/logger.js';
import { Channel, type OcppWorkerData, Pending, type ToMain, type ToWorker, answer } from './ocpp-worker-protocol.js';

/** How often the worker tells the host which chargers are connected and online, and the link counters. */
const STATE_EVERY_MS = 500;

function openWorkerDb(path: string): Database.Database {
  const db = new Database(path);
  // The same settings as the main connection (src/store/db.ts); the main thread's checkpointer covers this one's
  // commits too, so no checkpoint on commit here either.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('wal_autocheckpoint = 0');
  preferImmediateTransactions(db);
  return db;
}

export function runOcppWorker(port: MessagePort, data: OcppWorkerData): void {
  const out = new Channel<ToMain>(port);
  const send = (m: ToMain) => out.send(m);
  const db = openWorkerDb(data.dbPath);
  const clock = new SystemClock();
  const log = createLogger({
    level: data.logLevel,
    destination: { write: (line: string) => send({ t: 'log', line }) },
  });
  const registry = new Registry();
  const sinks = new Map<string, SetpointSink>();
  const auth = new Pending();
  const bus = {
    emit: (event: string, payload: unknown) => send({ t: 'bus', event, payload }),
    on: () => () => {},
    off: () => {},
  } as unknown as GatewayBusPort;
  const proxy: OcppProxy = createOcppProxy(data.cfg, {
    clock,
    log,
    bus,
    dispatcher: {
      registerSink(key, sink) {
        sinks.set(key, sink);
        send({ t: 'sink', key, on: true });
        return () => {
          if (sinks.get(key) !== sink) return;
          sinks.delete(key);
          send({ t: 'sink', key, on: false });
        };
      },
      invalidate: (prefix) => send({ t: 'invalidate', prefix }),
    },
    sessions: new SessionStore(db),
    db,
    metrics: registry,
    env: data.env,
    onEvChargingNeeds: (needs) => send({ t: 'callback', name: 'needs', args: [needs] }),
    onChargerError: (...args) => send({ t: 'callback', name: 'chargerError', args }),
    onFirmwareStatus: (...args) => send({ t: 'callback', name: 'firmware', args }),
    ...(data.authorise
      ? {
          authorise: async (req: AuthoriseRequest) => {
            const { id, answer: a } = auth.open();
            send({ t: 'authorise', id, req });
            return (await a) as AuthoriserAnswer | undefined;
          },
        }
      : {}),
    ...(data.authoriseTimeoutMs !== undefined ? { authoriseTimeoutMs: data.authoriseTimeoutMs } : {}),
  });

  let lastLinks = '';
  let lastStats = '';
  const report = () => {
    const connected = proxy.connected();
    const online = connected.filter((id) => proxy.upstreamOnline(id));
    const key = `${connected.join(',')}|${online.join(',')}`;
    if (key !== lastLinks) {
      lastLinks = key;
      send({ t: 'links', state: { connected, online } });
    }
    const stats = JSON.stringify(proxy.stats);
    if (stats !== lastStats) {
      lastStats = stats;
      send({ t: 'stats', stats: { ...proxy.stats } });
    }
  };
  let reporter: ReturnType<typeof setInterval> | undefined;

  const handle = (m: ToWorker): void => {
    switch (m.t) {
      case 'start':
        proxy.start().then(
          () => {
            reporter = setInterval(report, STATE_EVERY_MS);
            const metrics = registry.getMetricsAsArray().map((x) => {
              const { name, help, type, aggregator } = x as unknown as Record<string, string>;
              return {
                name: name as string,
                help: help as string,
                type: type as string,
                aggregator: aggregator as string,
              };
            });
            send({ t: 'ready', port: proxy.port(), metrics });
          },
          (err: Error) => send({ t: 'startFailed', error: err.message }),
        );
        return;
      case 'stop':
        clearInterval(reporter);
        void proxy
          .stop()
          .catch((err: unknown) => log.error({ err }, 'error while stopping the OCPP proxy'))
          .finally(() => {
            report();
            db.close();
            send({ t: 'stopped' });
            out.flush();
          });
        return;
      case 'setpoint':
        answer(send, m.id, async () => {
          const sink = sinks.get(m.key);
          if (!sink) throw new Error(`${m.key} not connected`);
          await sink.applySetpoint(m.setpoint as Setpoint);
        });
        return;
      case 'command':
        answer(send, m.id, () => proxy.commands[m.name](m.req as never));
        return;
      case 'metrics':
        answer(send, m.id, () => registry.getMetricsAsJSON());
        return;
      case 'kick':
        // Rows were requeued through the main thread's connection: send them now, not at the next retry.
        proxy.retryParked([]);
        return;
      case 'reply':
        auth.settle(m);
        return;
    }
  };
  port.on('message', (batch: ToWorker[]) => {
    for (const m of batch) handle(m);
  });
}

// Diagnostics only (bench/proxy-stalls.ts loads its stall probe here): modules to load before the proxy.
for (const m of (process.env.GK_OCPP_WORKER_IMPORT ?? '').split(',').filter((x) => x !== '')) await import(m);
if (parentPort) runOcppWorker(parentPort, workerData as OcppWorkerData);
