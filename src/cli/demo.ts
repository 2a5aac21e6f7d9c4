import { join, resolve } from 'node:path';
import { SitePhysics } from '../../sim/site/physics.js';
import { formatErrors, loadConfigFile } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';
import { type Clock, SystemClock } from '../model/clock.js';
import { createLogger, type Logger } from '../util/logger.js';
import { createGateway, type Gateway } from './compose.js';

export interface DemoOptions {
  readonly config: string;
  readonly httpPort: number;
  readonly ocppPort: number;
  readonly cmsPort: number;
  readonly meterPort: number;
  readonly pvPort: number;
  readonly mqttPort: number;
  readonly opcuaPort: number;
  readonly vtnPort: number;
  readonly upstreamUrl?: string;
  readonly vtnUrl?: string;
  readonly chargers: number;
  readonly dataDir: string;
}

export interface DemoDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clock?: Clock;
  readonly log?: Logger;
}

interface Part {
  readonly name: string;
  readonly where?: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

export interface Demo {
  readonly gateway: Gateway;
  readonly physics: SitePhysics;
  readonly config: GatewayConfig;
  /** Human-readable list of what runs where. */
  describe(): string;
  stop(): Promise<void>;
}

export const DEMO_DEFAULTS: DemoOptions = {
  config: 'config/demo.yaml',
  httpPort: 8080,
  ocppPort: 9000,
  cmsPort: 9100,
  meterPort: 5020,
  pvPort: 5021,
  mqttPort: 1883,
  opcuaPort: 4840,
  vtnPort: 8081,
  chargers: 4,
  dataDir: 'data',
};

/**
 * Start the simulated depot and the gateway: site physics, device and cloud
 * simulators speaking their real protocols on 127.0.0.1, then the gateway
 * configured to talk to them. Stops everything in reverse order.
 */
export async function startDemo(options: Partial<DemoOptions>, deps: DemoDeps): Promise<Demo> {
  const opts = { ...DEMO_DEFAULTS, ...options };
  const loaded = loadConfigFile(resolve(opts.config), deps.env);
  if (!loaded.ok) throw new Error(`${opts.config}: invalid configuration\n${formatErrors(loaded.errors)}`);
  const base = loaded.config;
  const clock = deps.clock ?? new SystemClock();
  const log = deps.log ?? createLogger({ level: base.log.level });

  const config: GatewayConfig = {
    ...base,
    api: { ...base.api, port: opts.httpPort },
    ocpp: { ...base.ocpp, port: opts.ocppPort },
    store: { ...base.store, path: base.store.path === ':memory:' ? ':memory:' : join(opts.dataDir, 'demo.db') },
  };

  const physics = new SitePhysics({ clock, seed: 42, baseLoadW: 9000, baseLoadNoiseW: 800, pvPeakW: 15000 });
  const parts: Part[] = [{ name: 'site physics', start: () => physics.start(), stop: () => physics.stop() }];

  const gateway = createGateway(config, { clock, log, env: deps.env });
  parts.push({ name: 'gateway', start: () => gateway.start(), stop: () => gateway.stop() });

  const started: Part[] = [];
  const stop = async () => {
    for (const p of started.splice(0).reverse()) {
      try {
        await p.stop();
      } catch (err) {
        log.error({ part: p.name, err }, 'error while stopping');
      }
    }
  };
  try {
    for (const p of parts) {
      await p.start();
      started.push(p);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    gateway,
    physics,
    config,
    describe() {
      const urls = gateway.urls();
      const lines = ['gridkeeper demo running (Ctrl-C stops everything):'];
      for (const [name, url] of Object.entries(urls)) lines.push(`  ${name.padEnd(22)} ${url}`);
      for (const p of parts) if (p.where) lines.push(`  ${p.name.padEnd(22)} ${p.where}`);
      return lines.join('\n');
    },
    stop,
  };
}
