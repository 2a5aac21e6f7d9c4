import { GridSignalStore } from '../../src/grid/signals.js';
import type { Clock } from '../../src/model/clock.js';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { GridSchema, type GridConfig } from '../../src/config/sections/grid.js';
import type { EvseState, SiteSnapshot } from '../../src/model/site.js';
import { reading } from '../../src/model/reading.js';
import { evseSpec } from '../helpers/evse.js';

export function gridConfig(overrides: Record<string, unknown> = {}): GridConfig {
  return GridSchema.parse(overrides);
}

export function evse(id: string, powerW: number, ts: number, extra: Partial<EvseState> = {}): EvseState {
  return { ...evseSpec(id, { protocol: 'sim' }), status: 'Charging', powerW: reading(powerW, ts, id), ...extra };
}

export function snapshot(
  ts: number,
  gridW: number | undefined,
  evses: EvseState[],
  extra: Partial<SiteSnapshot> = {},
): SiteSnapshot {
  return {
    ts,
    siteId: 'test',
    grid: gridW === undefined ? {} : { powerW: reading(gridW, ts, 'meter') },
    pv: {},
    battery: {},
    evses,
    devices: [],
    stale: gridW === undefined ? ['grid.powerW'] : [],
    ...extra,
  };
}

/**
 * A bare fastify server on port 0 carrying an adapter's route plugin, as the
 * gateway's API server carries it in production (where the API-key check
 * skips these `auth: 'public'` routes and the adapter checks its own token).
 */
export async function routeHost(
  register: (app: FastifyInstance) => Promise<void>,
): Promise<{ url: string; close(): Promise<void> }> {
  const app = Fastify();
  await app.register(async (sub) => register(sub));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

/** The signal store a grid adapter writes into: 100 kW site, 11 kW fallback import limit. */
export function adapterTestStore(clock: Clock): GridSignalStore {
  return new GridSignalStore({
    clock,
    config: gridConfig({ fallback: { importLimitW: 11_000 } }),
    siteLimitW: 100_000,
    failsafeLimitW: 4000,
    staleAfterMs: 10_000,
  });
}
