import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/model/clock.js';
import { SimCharger } from '../../../sim/devices/ocpp/charger.js';
import { SimVehicle } from '../../../sim/site/vehicle.js';
import { perTest, waitFor } from './helpers.js';

describe('OCPP proxy commands (for the API)', () => {
  const t = perTest();

  for (const protocol of ['ocpp1.6', 'ocpp2.0.1'] as const) {
    it(`${protocol}: availability and remote stop go to the charger, never to the CMS`, async () => {
      const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
      const stack = await t.start({ clock, chargers: [{ id: 'CMD' }] });
      const { proxy, cms, core } = stack;
      const charger = t.add(new SimCharger({ id: 'CMD', protocol, url: proxy.url(), clock }));
      await charger.start();
      await waitFor(() => charger?.booted === true && proxy.upstreamOnline('CMD'), { what: 'boot' });
      expect(await proxy.commands.setAvailability({ chargerId: 'CMD', available: false })).toMatchObject({
        status: 'Accepted',
      });
      expect(charger.received.at(-1)?.action).toBe('ChangeAvailability');

      await charger.plugIn(
        new SimVehicle(
          { id: 'EV', capacityWh: 50_000, socPct: 50, maxCurrentA: 16, phases: 3, responseDelayMs: 0 },
          clock.now(),
        ),
        'TAG-C',
      );
      const cp = charger;
      await waitFor(
        () => cp.connectors[0]?.txId !== undefined && core.sessions.list({ chargerId: 'CMD' }).length === 1,
        {
          what: 'session',
        },
      );
      const session = core.sessions.list({ chargerId: 'CMD' })[0];
      const res = await proxy.commands.remoteStop({ chargerId: 'CMD', sessionId: session?.id as string });
      expect(res.status).toBe('Accepted');
      await waitFor(() => core.sessions.get(session?.id as string)?.stoppedAt !== undefined, {
        clock,
        advanceMs: 1,
        what: 'stopped',
      });
      const actions = cms.records.map((r) => r.action);
      expect(actions).not.toContain('ChangeAvailability');
      expect(actions).not.toContain('RemoteStopTransaction');
      expect(await proxy.commands.remoteStart({ chargerId: 'NOPE', idTag: 'x' })).toMatchObject({ status: 'Rejected' });
      // The charger's answers to the gateway's own calls (sent with a chosen message id) are not bad frames.
      const bad = await core.metrics.getSingleMetric('gridkeeper_ocpp_bad_frames_total')?.get();
      expect(bad?.values[0]?.value ?? 0).toBe(0);
    });
  }
});
