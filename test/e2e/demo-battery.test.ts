import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_ANY_PORTS, type Demo, startDemo } from '../../src/cli/demo.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../helpers/wait.js';

/**
 * `npm start` runs the demo without the OPC UA BMS: the battery policy then steers the SunSpec
 * battery over Modbus (it asked a battery that was not there before, and the demo's battery sat
 * idle), and the battery's power shows in the API.
 */
describe('demo battery without the OPC UA BMS', () => {
  it('steers the SunSpec battery: a confirmed set-point, and the battery power follows it', async () => {
    let demo: Demo | undefined;
    try {
      demo = await startDemo(
        { ...DEMO_ANY_PORTS, dataDir: mkdtempSync(join(tmpdir(), 'gk-demo-bat-')), chargers: 2, opcua: false },
        { env: {}, log: silentLogger() },
      );
      expect(demo.config.control.policies.battery.id).toBe('battery');
      expect(demo.config.grid.vpp.battery?.id).toBe('battery');
      const core = demo.gateway.core;
      const api = demo.gateway.api()?.url();
      const sent = await waitFor(
        'a battery set-point the SunSpec battery confirmed',
        async () => {
          const sp = core.dispatcher.lastSent('battery:battery');
          return sp && sp.powerW !== 0 ? sp : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 100 },
      );
      // The battery policy asked for it (a grid signal's cap may come first in the chain when it clamps).
      expect(sent.reasons.map((r) => r.policy)).toContain('battery');
      // The battery's own reading (SunSpec, polled) shows it moving.
      await waitFor(
        'battery power in /api/v1/state',
        async () => {
          const s = (await (await fetch(`${api}/api/v1/state`)).json()) as { battery: { powerW: number | null } };
          return s.battery.powerW !== null && Math.abs(s.battery.powerW) > 500 ? true : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 200 },
      );
    } finally {
      await demo?.stop();
    }
  }, 40_000);
});
