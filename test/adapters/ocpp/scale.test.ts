import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/model/clock.js';
import { SimCharger } from '../../../sim/devices/ocpp/charger.js';
import { type Stack, startStack, waitFor } from './helpers.js';

describe('OCPP proxy at scale', () => {
  let stack: Stack | undefined;
  const chargers: SimCharger[] = [];
  afterEach(async () => {
    await Promise.all(chargers.splice(0).map((c) => c.stop()));
    await stack?.close();
    stack = undefined;
  });

  it('accepts 200 chargers connecting at once, each with its own CMS connection and boot', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    stack = await startStack({ clock, ocpp: { unknownChargers: 'accept' } });
    const protocols = ['ocpp1.6', 'ocpp2.0.1', 'ocpp2.1'] as const;
    for (let i = 0; i < 200; i++) {
      chargers.push(
        new SimCharger({
          id: `S${String(i).padStart(3, '0')}`,
          protocol: protocols[i % 3] as (typeof protocols)[number],
          url: stack.proxy.url(),
          clock,
        }),
      );
    }
    await Promise.all(chargers.map((c) => c.start()));
    const s = stack;
    await waitFor(() => chargers.every((c) => c.booted), { timeoutMs: 30_000, what: '200 boots' });
    expect(s.proxy.connected()).toHaveLength(200);
    expect(new Set(s.cms.received('BootNotification').map((r) => r.identity)).size).toBe(200);
    expect(s.cms.connectedIds()).toHaveLength(200);
    // Every one of them is served: a round of heartbeats reaches the CMS.
    await Promise.all(chargers.map((c) => c.request('Heartbeat', {})));
    expect(s.cms.received('Heartbeat')).toHaveLength(200);
    expect(s.core.state.snapshot().evses).toHaveLength(200);
  }, 60_000);
});
