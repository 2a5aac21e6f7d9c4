import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_ANY_PORTS, type Demo, startDemo } from '../../src/cli/demo.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../helpers/wait.js';

interface StateEvse {
  id: string;
  status: string;
  powerW: number | null;
  setpointW: number | null;
  reason: string;
}
interface State {
  ts: string;
  grid: { powerW: number | null };
  pv: { powerW: number | null };
  site: { limitW: number; contractLimitW?: number };
  evses: StateEvse[];
  devices: Array<{ id: string; protocol: string; online: boolean }>;
}

/**
 * The foundation's acceptance, over real sockets: `gridkeeper demo` with
 * every simulator speaking its real protocol. Within 15 s at least three
 * EVSEs charge, the cloud CMS sim has their transactions, grid import is
 * under the site limit, and after a load step it is back under the limit
 * within the vehicles' response delay plus a second.
 */
describe('demo end to end', () => {
  it('charges, syncs to the CMS, holds the site limit through a load step and stops cleanly', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gk-demo-'));
    let demo: Demo | undefined;
    try {
      const t0 = Date.now();
      demo = await startDemo({ ...DEMO_ANY_PORTS, dataDir, chargers: 4 }, { env: {}, log: silentLogger() });
      const api = demo.gateway.api()?.url();
      expect(api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const health = await fetch(`${api}/healthz`);
      expect(health.status).toBe(200);
      const limitW = demo.config.site.limitW;

      // Count only the proxied OCPP chargers (the Modbus chargers charge from their first poll),
      // and only once the CMS has their transactions: 1.6 StartTransaction or a 2.x
      // TransactionEvent that started one.
      const ocppIds = new Set(demo.chargers.map((c) => c.opts.id));
      const cms = demo.cms!;
      const synced = () =>
        new Set(
          [
            ...cms.received('StartTransaction'),
            ...cms
              .received('TransactionEvent')
              .filter((r) => (r.payload as { eventType?: string }).eventType === 'Started'),
          ].map((r) => r.identity),
        );
      const charging = await waitFor(
        '3 charging OCPP EVSEs with set-points and their transactions at the CMS',
        async () => {
          const s = (await (await fetch(`${api}/api/v1/state`)).json()) as State;
          const started = synced();
          const active = s.evses.filter((e) => {
            const chargerId = e.id.split('/')[0] as string;
            return (
              ocppIds.has(chargerId) &&
              started.has(chargerId) &&
              e.status === 'Charging' &&
              (e.setpointW ?? 0) > 0 &&
              (e.powerW ?? 0) > 0
            );
          });
          return active.length >= 3 ? { s, active } : undefined;
        },
        { timeoutMs: 15_000 - (Date.now() - t0), intervalMs: 250 },
      );
      for (const e of charging.active) expect(e.reason.length).toBeGreaterThan(10);
      expect(new Set(cms.received('BootNotification').map((r) => r.identity)).size).toBe(4);

      // Grid import at or under the site limit once vehicles followed their set-points.
      const settled = await waitFor(
        'grid import under the limit',
        async () => {
          const s = (await (await fetch(`${api}/api/v1/state`)).json()) as State;
          return s.grid.powerW !== null && s.grid.powerW <= limitW ? s : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 250 },
      );
      expect(settled.grid.powerW).toBeLessThanOrEqual(limitW);

      // A 15 kW building load step: shed at once, vehicles follow within their delay (<= 5 s) + 1 s.
      demo.physics.setBaseLoadStep(15_000);
      const stepAt = Date.now();
      await waitFor(
        'import back under the limit after the load step',
        async () => (demo!.physics.gridPowerW() <= limitW ? true : undefined),
        { timeoutMs: 12_000, intervalMs: 250 },
      );
      const recoveredMs = Date.now() - stepAt;
      expect(recoveredMs).toBeLessThan(12_000);

      // Devices of every protocol are listed and online.
      const s = (await (await fetch(`${api}/api/v1/state`)).json()) as State;
      const protocols = new Set(s.devices.filter((d) => d.online).map((d) => d.protocol));
      for (const p of ['modbus', 'ocpp', 'mqtt', 'opcua']) expect(protocols).toContain(p);
    } finally {
      await demo?.stop();
    }
  }, 60_000);
});
