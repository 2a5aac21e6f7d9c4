import type { OcppProxy } from '../../../adapters/ocpp/index.js';
import { type Gateway, createGateway } from '../../../src/cli/compose.js';
import type { GatewayConfigInput } from '../../../src/config/schema.js';
import { SystemClock } from '../../../src/model/clock.js';
import { silentLogger } from '../../../src/util/logger.js';
import { testConfig } from '../../helpers/core.js';

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly proxy: OcppProxy;
  /** ws://127.0.0.1:<port>/ocpp; chargers append `/<id>`. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * The whole gateway (`createGateway`, the one composition) on real time with
 * every listener on port 0 and an in-memory store; `ocpp` settings are merged
 * over a localhost listener. Chargers `CP0`..`CP<n-1>` are configured.
 */
export async function startGateway(
  ocpp: Record<string, unknown>,
  opts: { chargers?: number } = {},
): Promise<RunningGateway> {
  const chargers = Array.from({ length: opts.chargers ?? 3 }, (_, i) => ({ id: `CP${i}` }));
  const config = testConfig({
    site: { id: 'hygiene', limitW: 200_000, failsafeLimitW: 200_000, gridStaleAfterMs: 3000 },
    chargers,
    ocpp: { host: '127.0.0.1', port: 0, ...ocpp } as GatewayConfigInput['ocpp'],
  });
  const gateway = createGateway(config, {
    clock: new SystemClock(),
    log: silentLogger(),
    env: {},
    defaultMetrics: false,
  });
  await gateway.start();
  const proxy = gateway.component<OcppProxy>('ocpp');
  if (!proxy) throw new Error('no OCPP proxy in the gateway');
  return { gateway, proxy, url: proxy.url(), port: proxy.port(), stop: () => gateway.stop() };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` until true or `timeoutMs`; returns whether it became true. */
export async function waitFor(cond: () => boolean, timeoutMs: number, stepMs = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(stepMs);
  }
  return cond();
}
