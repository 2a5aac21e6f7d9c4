import { afterEach, describe, expect, it } from 'vitest';
import { BASE_W, MARGIN_W, meteredSite, VOLTS_3P } from '../../bench/metered-site.js';
import { ChargerPeer } from '../../bench/peers/charger.js';
import { CmsPeer } from '../../bench/peers/cms.js';
import { MeterPeer } from '../../bench/peers/meter.js';
import { createGateway, type Gateway } from '../../src/cli/compose.js';
import { validateConfig } from '../../src/config/load.js';
import { SystemClock } from '../../src/model/clock.js';
import { silentLogger } from '../../src/util/logger.js';

/**
 * Issue 15 item 4, from outside: a CMS (bench peer, own codec) sets a
 * ChargePointMaxProfile of 9.3 A on one of two chargers behind the gateway.
 * The cap enters the arbiter in its own tier: that charger's set-point names
 * the CMS profile, and the site budget it cannot use goes to the other.
 */
describe('CMS charging profiles are arbiter inputs (end to end)', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  });

  it('a CMS max profile binds its charger with its own reason; the other charger gets the budget', async () => {
    const clock = new SystemClock();
    const cms = new CmsPeer();
    const cmsUrl = await cms.ready();
    closers.push(() => cms.close());
    const chargers: ChargerPeer[] = [];
    const meter = new MeterPeer(() => BASE_W + chargers.reduce((s, c) => s + c.drawA * VOLTS_3P, 0));
    await meter.start();
    closers.push(() => meter.stop());
    // Site limit: 16 A for each of the two vehicles.
    const limitW = BASE_W + 2 * 16 * VOLTS_3P + MARGIN_W;
    const site = meteredSite({ id: 'cms-e2e', chargers: 2, meterPort: meter.port, pollMs: 200, limitW });
    const v = validateConfig(
      {
        ...site,
        store: { path: ':memory:' },
        api: { port: 0, host: '127.0.0.1' },
        ocpp: { ...(site.ocpp as object), port: 0, host: '127.0.0.1', callTimeoutMs: 2000, upstream: { url: cmsUrl } },
        // A vehicle paused while the sessions start (its draw not yet reported) comes back after 2 s, not 30 s.
        control: { policies: { loadManagement: { marginW: MARGIN_W }, allocator: { minOffMs: 2000 } } },
      },
      {},
    );
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    const gw: Gateway = createGateway(v.config, { clock, log: silentLogger(), env: {} });
    await gw.start();
    closers.push(() => gw.stop());
    for (let i = 0; i < 2; i++) {
      const c = await ChargerPeer.connect({ url: gw.urls().ocpp as string, id: `CP${i}`, followMs: 200 });
      closers.push(() => c.close());
      chargers.push(c);
      await c.boot();
      await c.status('Preparing');
      await c.startSession(`TAG${i}`);
      await c.meterValues();
    }
    const mv = setInterval(() => {
      for (const c of chargers) if (c.open) void c.meterValues().catch(() => {});
    }, 1000);
    closers.push(async () => clearInterval(mv));
    await waitFor(() => cms.connected('CP0'), 5000, 'CMS link');
    let shareA = 0;
    await waitFor(
      () => {
        const limits = chargers.map((c) => c.limitA ?? 0);
        shareA = Math.min(...limits);
        // Equal shares: while the two still ramp, one may be far above the other and "CP1 takes more"
        // would hold before the CMS profile had done anything.
        return shareA >= 10 && Math.max(...limits) - shareA <= 1 && chargers.every((c) => c.drawA === c.limitA);
      },
      15_000,
      'both at their share',
    );

    const res = await cms.call('CP0', 'SetChargingProfile', {
      connectorId: 0,
      csChargingProfiles: {
        chargingProfileId: 77,
        stackLevel: 0,
        chargingProfilePurpose: 'ChargePointMaxProfile',
        chargingProfileKind: 'Absolute',
        chargingSchedule: {
          chargingRateUnit: 'A',
          startSchedule: new Date(Date.now() - 1000).toISOString(),
          chargingSchedulePeriod: [{ startPeriod: 0, limit: 9.3 }],
        },
      },
    });
    expect(res.payload.status).toBe('Accepted');
    const sp = (id: string) => gw.core.dispatcher.current(id);
    // CP0 may draw 9.3 A instead of its share; CP1 gets the difference.
    const more = shareA - 9.3;
    await waitFor(
      () =>
        (sp('CP0/1')?.currentA ?? Number.POSITIVE_INFINITY) <= 9.3 && (sp('CP1/1')?.currentA ?? 0) >= shareA + more - 1,
      10_000,
      'CP0 held to the CMS profile and CP1 takes the budget CP0 cannot use',
    );
    expect(sp('CP0/1')?.currentA).toBeLessThanOrEqual(9.3);
    expect(sp('CP0/1')?.reasons[0]).toMatchObject({ tier: 'cms', policy: 'cms-profile' });
    expect(sp('CP0/1')?.reasons[0]?.text).toBe('CMS profile (ChargePointMaxProfile) on CP0 limits to 9.3 A');
    // What the chargers really got: CP0 at most 9.3 A, CP1 the rest of the site budget.
    await waitFor(() => (chargers[1]?.limitA ?? 0) >= shareA + more - 1, 5000, 'CP1 profile');
    expect(chargers[0]?.limitA).toBeLessThanOrEqual(9.3);
  }, 30_000);
});

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
