import { type OcppProxy, type OcppProxyDeps, createOcppProxy } from '../../adapters/ocpp/index.js';
import type { GatewayConfig } from '../config/schema.js';
import { SystemClock } from '../model/clock.js';
import { gcTuningFor } from './gc-tuning.js';
import { createOcppWorkerHost } from './ocpp-worker-host.js';
import { preferImmediateTransactions } from './sqlite-shared.js';

/** Why the proxy runs on the main thread although `ocpp.thread` says worker; undefined: it can run in a worker. */
function mainThreadReason(config: GatewayConfig, deps: OcppProxyDeps): string | undefined {
  // A worker has its own timers: it cannot follow a virtual clock (unit tests, scenarios).
  if (!(deps.clock instanceof SystemClock)) return 'the gateway runs on a virtual clock';
  // An in-memory database is private to its connection: a second thread cannot open it.
  if (config.store.path === ':memory:') return 'the store is in memory';
  return undefined;
}

/** GRIDKEEPER_GC_YOUNG_MIB (deployment.md §8) sizes the worker's young generation too; otherwise gc-tuning.ts. */
function workerYoungMiB(chargers: number, env: Readonly<Record<string, string | undefined>>): number {
  const raw = env.GRIDKEEPER_GC_YOUNG_MIB;
  const n = raw === undefined || raw === '' ? Number.NaN : Number(raw);
  return Number.isInteger(n) && n >= 0 ? n : gcTuningFor(chargers).youngMiB;
}

/**
 * The OCPP proxy where `ocpp.thread` puts it: in its own worker thread (ocpp-worker-host.ts), or on the main
 * thread (`createOcppProxy` itself, exactly as before the worker existed).
 */
export function composeOcppProxy(
  config: GatewayConfig,
  deps: OcppProxyDeps,
  opts: { readonly onFatal?: (err: Error) => void; readonly env: Readonly<Record<string, string | undefined>> },
): OcppProxy {
  const cfg = { ocpp: config.ocpp, chargers: config.chargers, site: config.site };
  if (config.ocpp.thread === 'main') return createOcppProxy(cfg, deps);
  const reason = mainThreadReason(config, deps);
  if (reason) {
    deps.log.info(
      { reason },
      'OCPP proxy on the main thread (ocpp.thread: worker needs a system clock and a file store)',
    );
    return createOcppProxy(cfg, deps);
  }
  // The worker's connection writes too: the main connection's transactions must wait for its lock, not fail.
  preferImmediateTransactions(deps.db);
  const tuned = opts.env.GRIDKEEPER_GC_TUNING !== 'off';
  return createOcppWorkerHost(cfg, deps, {
    dbPath: config.store.path,
    mainThreadNice: config.ocpp.mainThreadNice,
    // The worker's isolate has its own young generation: sized like the main thread's (gc-tuning.ts).
    youngMiB: tuned ? workerYoungMiB(config.chargers.length, opts.env) : 0,
    onFatal:
      opts.onFatal ??
      ((err) => {
        // Thrown outside any promise: the process ends like it would for the same crash on the main thread.
        setImmediate(() => {
          throw err;
        });
      }),
  });
}
