import type { GatewayConfig } from '../config/schema.js';
import type { Adapter } from '../model/adapter.js';
import type { Clock } from '../model/clock.js';
import type { Logger } from '../util/logger.js';
import { type Core, createCore } from './core.js';

export interface GatewayDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface Gateway {
  readonly core: Core;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Where each server of the gateway listens (after start). */
  urls(): Record<string, string>;
}

/**
 * The composition root: the only place that knows every adapter. It builds
 * the core, attaches adapters and servers in dependency order, starts them
 * in that order and stops them in reverse.
 */
export function createGateway(config: GatewayConfig, deps: GatewayDeps): Gateway {
  const migrations = [] as const;
  const core = createCore(config, { clock: deps.clock, log: deps.log, env: deps.env, migrations });
  const components: Array<Adapter & { url?: () => string }> = [];
  const started: Adapter[] = [];

  return {
    core,
    async start() {
      core.start();
      try {
        for (const c of components) {
          await c.start();
          started.push(c);
        }
      } catch (err) {
        await this.stop();
        throw err;
      }
    },
    async stop() {
      for (const c of started.splice(0).reverse()) {
        try {
          await c.stop();
        } catch (err) {
          deps.log.error({ component: c.id, err }, 'error while stopping');
        }
      }
      core.stop();
    },
    urls() {
      const out: Record<string, string> = {};
      for (const c of components) if (c.url) out[c.id] = c.url();
      return out;
    },
  };
}
