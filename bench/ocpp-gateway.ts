/**
 * The gateway's OCPP proxy alone in a child process for `bench/ocpp.ts`, so
 * latency and memory are the proxy's, not the load generator's.
 * argv: <dbPath> <upstreamUrl>. IPC: `{ type: 'rss' }` → `{ rss, outbox }`.
 */
import { OCPP_MIGRATIONS, createOcppProxy } from '../adapters/ocpp/index.js';
import { createCore } from '../src/cli/core.js';
import { validateConfig } from '../src/config/load.js';
import { SystemClock } from '../src/model/clock.js';
import { silentLogger } from '../src/util/logger.js';

const [dbPath, upstreamUrl] = process.argv.slice(2);
const r = validateConfig(
  {
    site: { id: 'bench', limitW: 1_000_000, failsafeLimitW: 100_000 },
    store: { path: dbPath },
    ocpp: {
      port: 0,
      unknownChargers: 'accept',
      pingIntervalMs: 0,
      upstream: { url: upstreamUrl, pingIntervalMs: 0, reconnectMinMs: 200, reconnectMaxMs: 2000 },
    },
  },
  {},
);
if (!r.ok) throw new Error(JSON.stringify(r.errors));
const core = createCore(r.config, {
  clock: new SystemClock(),
  log: silentLogger(),
  defaultMetrics: false,
  migrations: OCPP_MIGRATIONS,
});
const proxy = createOcppProxy(
  { ocpp: r.config.ocpp, chargers: r.config.chargers, site: r.config.site },
  { ...core, metrics: core.metrics },
);
core.state.start();
await proxy.start();
process.on('message', (m: { type: string }) => {
  if (m.type === 'rss') {
    (globalThis as { gc?: () => void }).gc?.();
    process.send?.({
      type: 'rss',
      rss: process.memoryUsage().rss,
      outbox: proxy.outbox.counts(),
      connected: proxy.connected().length,
    });
  }
});
process.send?.({ type: 'ready', port: proxy.port() });
