import { validateConfig } from '../../src/config/load.js';
import type { GatewayConfig, GatewayConfigInput } from '../../src/config/schema.js';
import { type Core, type CoreDeps, createCore } from '../../src/cli/core.js';
import { type Clock, VirtualClock } from '../../src/model/clock.js';
import { silentLogger } from '../../src/util/logger.js';

/** A minimal valid config; override any section. */
export function testConfig(overrides: Partial<GatewayConfigInput> = {}): GatewayConfig {
  const raw: GatewayConfigInput = {
    site: { id: 'test', limitW: 22_000, failsafeLimitW: 4_000, gridStaleAfterMs: 3000 },
    store: { path: ':memory:' },
    api: { port: 0 },
    ocpp: { port: 0 },
    ...overrides,
  };
  const r = validateConfig(raw, {});
  if (!r.ok) throw new Error(`test config invalid: ${JSON.stringify(r.errors)}`);
  return r.config;
}

/** A core on a virtual clock (default) with an in-memory database. */
export function testCore(
  overrides: Partial<GatewayConfigInput> = {},
  deps: Partial<CoreDeps> & { clock?: Clock } = {},
): Core & { vclock: VirtualClock | undefined } {
  const clock = deps.clock ?? new VirtualClock();
  const core = createCore(testConfig(overrides), { log: silentLogger(), defaultMetrics: false, ...deps, clock });
  return Object.assign(core, { vclock: clock instanceof VirtualClock ? clock : undefined });
}

/**
 * A core with one 20 A feeder `f1` under the site (63 A fuse, `limitW`), load management on with no
 * margin, rounds every second: the site of the phase and feeder tests.
 */
export function feederCore(limitW = 100_000): ReturnType<typeof testCore> {
  return testCore({
    site: {
      id: 't',
      limitW,
      fuseA: 63,
      failsafeLimitW: 4_140,
      gridStaleAfterMs: 3000,
      circuits: [{ id: 'f1', parent: 'site', maxCurrentA: 20 }],
    },
    control: { intervalMs: 1000, coalesceMs: 50, policies: { loadManagement: { enabled: true, marginW: 0 } } },
  });
}
