import { describe, expect, it } from 'vitest';
import { SystemClock } from '../../../src/model/clock.js';
import { SimCharger } from '../../../sim/devices/ocpp/charger.js';
import { SimVehicle } from '../../../sim/site/vehicle.js';
import { startStack, waitFor } from './helpers.js';

describe('OCPP proxy lifecycle', () => {
  it('stop() closes every socket and leaves no timer behind, also mid-outage with a backlog', async () => {
    const clock = new SystemClock();
    const stack = await startStack({ clock, chargers: [{ id: 'LC1' }], upstream: { reconnectMinMs: 60_000 } });
    const cp = new SimCharger({ id: 'LC1', protocol: 'ocpp1.6', url: stack.proxy.url(), clock, meterIntervalMs: 20 });
    try {
      await cp.start();
      await waitFor(() => cp.booted && stack.proxy.upstreamOnline('LC1'), { what: 'boot' });
      await cp.plugIn(
        new SimVehicle(
          { id: 'EV', capacityWh: 50_000, socPct: 50, maxCurrentA: 16, phases: 3, responseDelayMs: 0 },
          clock.now(),
        ),
        'T',
      );
      await stack.cms.setOutage(true);
      await waitFor(() => stack.proxy.outbox.counts().pending > 3, { what: 'backlog' });
    } finally {
      await cp.stop();
      await stack.close();
    }
    expect(stack.proxy.connected()).toEqual([]);
    expect(clock.pending()).toBe(0);
  });
});
