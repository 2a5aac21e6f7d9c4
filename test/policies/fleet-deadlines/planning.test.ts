import { describe, expect, it } from 'vitest';
import { decide, type FleetDeadlinesConfig } from '../../../policies/fleet-deadlines.js';
import { reading } from '../../../src/model/reading.js';
import type { EvseState, SiteSnapshot } from '../../../src/model/site.js';
import { chargingEvse } from '../../helpers/evse.js';
import { siteSnapshot } from '../../helpers/snapshot.js';

const H = 3_600_000;
const NOW = Date.UTC(2026, 0, 5, 16);

const site = (gridW: number, evses: EvseState[]): SiteSnapshot => siteSnapshot(NOW, gridW, evses);

const ev = (id: string, over: Partial<EvseState> = {}) =>
  chargingEvse(id, { protocol: 'sim', powerW: reading(0, NOW, id), sessionEnergyWh: 0, ...over });

const base: FleetDeadlinesConfig = { needs: [], safetyFactor: 1.2, siteLimitW: 100_000, marginW: 0 };

describe('fleet-deadlines planning ahead', () => {
  it('charges before a day-ahead import limit what the site cannot deliver during it', () => {
    // 40 kWh by 23:00; 17:00-23:00 the DSO allows 25 kW with 20 kW other load: 5 kW x 6 h / 1.2 = 25 kWh then.
    const config: FleetDeadlinesConfig = {
      ...base,
      needs: [{ vehicleId: 'van', evseId: 'A/1', departureAt: NOW + 7 * H, energyWh: 40_000 }],
      importLimits: [{ start: NOW + H, end: NOW + 7 * H, importLimitW: 25_000 }],
    };
    const d = decide(site(20_000, [ev('A/1')]), config, NOW);
    const fleet = d.requests.filter((r) => r.reason.tier === 'fleet');
    expect(fleet).toHaveLength(1);
    // Without the limit ahead it asked the average x 1.2 = 6.9 kW; 15 kWh must be in before 17:00.
    expect(fleet[0]?.powerW).toBeCloseTo(15_000, 3);
    expect(fleet[0]?.reason.text).toMatch(/15\.0 kWh of it before 17:00 UTC/);
  });

  it('without any limit ahead the request stays the average power times the safety factor', () => {
    const config: FleetDeadlinesConfig = {
      ...base,
      needs: [{ vehicleId: 'van', evseId: 'A/1', departureAt: NOW + 7 * H, energyWh: 42_000 }],
    };
    const d = decide(site(20_000, [ev('A/1')]), config, NOW);
    expect(d.requests.find((r) => r.reason.tier === 'fleet')?.powerW).toBeCloseTo(7_200, 6);
  });

  it('serves the vehicle that must draw the largest share of its maximum first', () => {
    // Both must charge most before the limit; the 1-phase van (7.4 kW) is more pressed than the 22 kW one.
    const config: FleetDeadlinesConfig = {
      ...base,
      needs: [
        { vehicleId: 'big', evseId: 'A/1', departureAt: NOW + 3 * H, energyWh: 20_000 },
        { vehicleId: 'small', evseId: 'B/1', departureAt: NOW + 5 * H, energyWh: 12_000, phases: 1 },
      ],
      importLimits: [{ start: NOW + H, end: NOW + 5 * H, importLimitW: 20_000 }],
    };
    const d = decide(site(20_000, [ev('A/1'), ev('B/1')]), config, NOW);
    expect(d.requests.filter((r) => r.reason.tier === 'fleet').map((r) => r.target)).toEqual(['evse:B/1', 'evse:A/1']);
  });

  it('with chargeAhead, asks full power below the deadlines for every vehicle still short', () => {
    const config: FleetDeadlinesConfig = {
      ...base,
      chargeAhead: true,
      needs: [
        { vehicleId: 'short', evseId: 'A/1', departureAt: NOW + 7 * H, energyWh: 20_000 },
        { vehicleId: 'done', evseId: 'B/1', departureAt: NOW + 7 * H, energyWh: 10_000 },
      ],
    };
    const d = decide(site(20_000, [ev('A/1'), ev('B/1', { sessionEnergyWh: 10_000 })]), config, NOW);
    const ahead = d.requests.filter((r) => r.reason.tier === 'optimisation');
    expect(ahead).toEqual([expect.objectContaining({ target: 'evse:A/1', powerW: 32 * 3 * 230 })]);
  });

  it('pauses a vehicle that has its energy while the vehicles still short can take all the room', () => {
    const config: FleetDeadlinesConfig = {
      ...base,
      chargeAhead: true,
      needs: [
        { vehicleId: 'short', evseId: 'A/1', departureAt: NOW + 2 * H, energyWh: 20_000 },
        { vehicleId: 'done', evseId: 'B/1', departureAt: NOW + 7 * H, energyWh: 10_000 },
      ],
    };
    const evses = [ev('A/1'), ev('B/1', { sessionEnergyWh: 10_000 })];
    // 30 kW limit less 10 kW other load: 20 kW left, the short vehicle takes 22 kW.
    const tight = decide(site(10_000, evses), { ...config, siteLimitW: 30_000 }, NOW);
    expect(tight.limits).toEqual([
      expect.objectContaining({
        scope: 'evse:B/1',
        maxImportW: 0,
        reason: expect.objectContaining({ tier: 'optimisation' }),
      }),
    ]);
    // 100 kW: 22 of 90 kW, the done vehicle may go on.
    expect(decide(site(10_000, evses), config, NOW).limits).toEqual([]);
  });
});
