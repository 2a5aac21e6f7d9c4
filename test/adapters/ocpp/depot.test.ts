import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/model/clock.js';
import { reading } from '../../../src/model/reading.js';
import { SimDepot } from '../../../sim/devices/ocpp/depot.js';
import { SitePhysics } from '../../../sim/site/physics.js';
import { type Stack, startStack, waitFor } from './helpers.js';

describe('simulated depot through the proxy', () => {
  let stack: Stack | undefined;
  let depot: SimDepot | undefined;
  afterEach(async () => {
    await depot?.stop();
    await stack?.close();
    depot = undefined;
    stack = undefined;
  });

  it('1.6J, 2.0.1 and a 2.1 V2G charger charge vehicles; the control loop limits them through the proxy', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    stack = await startStack({
      clock,
      loop: true,
      chargers: [
        { id: 'D16', phaseRotation: 'L1L2L3' },
        { id: 'D201', phaseRotation: 'L2L3L1' },
        { id: 'D21', phaseRotation: 'L3L1L2', bidirectional: true },
      ],
    });
    const { core, cms, proxy } = stack;
    const physics = new SitePhysics({ clock, baseLoadW: 8000, baseLoadNoiseW: 0 });
    physics.start();
    // Stand-in for the grid meter adapter: the site's grid power from the physics, every second.
    const meter = clock.setInterval(
      () => core.bus.emit('grid', { powerW: reading(physics.gridPowerW(), clock.now(), 'meter') }),
      1000,
    );
    depot = new SimDepot({
      url: proxy.url(),
      clock,
      physics,
      meterIntervalMs: 2000,
      // Configured like an installed site; the chargers' factory default is un-phased values every 60 s.
      sampledData: ['Energy.Active.Import.Register', 'Power.Active.Import', 'Current.Import'],
      chargers: [
        { id: 'D16', protocol: 'ocpp1.6' },
        { id: 'D201', protocol: 'ocpp2.0.1', phaseRotation: 'L2L3L1' },
        { id: 'D21', protocol: 'ocpp2.1', phaseRotation: 'L3L1L2', bidirectional: true },
      ],
    });
    try {
      await depot.start();
      const charging = () => core.state.snapshot().evses.filter((e) => (e.powerW?.value ?? 0) > 1000).length;
      await waitFor(() => charging() === 3, { clock, advanceMs: 500, timeoutMs: 15_000, what: '3 charging EVSEs' });
      expect(cms.received('StartTransaction')).toHaveLength(1);
      expect(cms.received('TransactionEvent').some((r) => r.payload.eventType === 'Started')).toBe(true);
      // Load management keeps grid import at or under the site limit (22 kW in the test config) with 8 kW base load.
      const until = clock.now() + 60_000;
      await waitFor(() => clock.now() >= until, { clock, advanceMs: 1000, timeoutMs: 15_000, what: 'a minute' });
      expect(physics.gridPowerW()).toBeLessThanOrEqual(22_000 + 500);
      expect(core.dispatcher.stats.written).toBeGreaterThan(0);
      expect(cms.records.map((r) => r.action)).not.toContain('SetChargingProfile');
    } finally {
      clock.clearInterval(meter);
      physics.stop();
    }
  });
});
