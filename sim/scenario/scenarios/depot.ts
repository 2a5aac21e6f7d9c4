import type { ChargerConfig } from '../../../src/config/sections/site.js';
import { createRng } from '../../site/rng.js';
import { HOUR, ROTATIONS, responseDelay, touPrice } from '../helpers.js';
import type { ScenarioDefinition, ScenarioVehicle } from '../types.js';

/**
 * A delivery-van depot at night: 40 AC chargers on two feeders, a tight
 * connection (200 A fuse, 130 kW contract) and every van with a departure
 * and the energy it needs for tomorrow's route.
 */
export const scenario: ScenarioDefinition = {
  name: 'depot',
  description: '40 chargers, night charging, tight fuse (200 A / 130 kW), two 125 A feeders, departure deadlines',
  build(opts) {
    const rng = createRng(opts.seed);
    const startAt = Date.UTC(2026, 0, 5, 12);
    const chargers: Array<Partial<ChargerConfig> & { id: string }> = [];
    const vehicles: ScenarioVehicle[] = [];
    for (let i = 0; i < 40; i++) {
      const id = `D${String(i + 1).padStart(2, '0')}`;
      chargers.push({
        id,
        circuit: i < 20 ? 'feeder-a' : 'feeder-b',
        phases: 3,
        phaseRotation: ROTATIONS[i % 3],
        minCurrentA: 6,
        maxCurrentA: 32,
      });
      const kind = rng();
      const [maxCurrentA, phases] = kind < 0.6 ? [16, 3] : kind < 0.85 ? [32, 3] : [32, 1];
      const capacityWh = 75_000;
      const socPct = 10 + rng() * 40;
      const arriveAt = startAt + 4.5 * HOUR + rng() * 4 * HOUR;
      const departAt = startAt + 16.5 * HOUR + rng() * 2.5 * HOUR;
      const neededWh = Math.round(Math.min(8000 + rng() * 22_000, capacityWh * (0.95 - socPct / 100)));
      vehicles.push({
        id: `van-${i + 1}`,
        evseId: `${id}/1`,
        idTag: `TAG-VAN-${i + 1}`,
        arriveAt: Math.round(arriveAt / 1000) * 1000,
        departAt: Math.round(departAt / 1000) * 1000,
        capacityWh,
        socPct,
        maxCurrentA,
        phases: phases as 1 | 3,
        responseDelayMs: responseDelay(rng, opts),
        overdrawA: rng() < 0.15 ? 1 + rng() * 0.5 : 0,
        neededWh,
        announcesPhases: rng() < 0.5,
      });
    }
    return {
      config: {
        site: {
          id: 'depot',
          limitW: 130_000,
          fuseA: 200,
          failsafeLimitW: 40_000,
          circuits: [
            { id: 'feeder-a', parent: 'site', maxCurrentA: 125 },
            { id: 'feeder-b', parent: 'site', maxCurrentA: 125 },
          ],
        },
        chargers,
        control: { intervalMs: 1000, policies: { loadManagement: { marginW: 3000 } } },
        fleet: { deadlines: { safetyFactor: 1.2 } },
        store: { path: ':memory:' },
      },
      startAt,
      endAt: startAt + 24 * HOUR,
      vehicles,
      baseLoadW: 15_000,
      baseLoadNoiseW: 800,
      loadSteps: [
        { at: startAt + 10 * HOUR, w: 1500 },
        { at: startAt + 14 * HOUR, w: -2000 },
        { at: startAt + 17 * HOUR, w: 1000 },
      ],
      pvPeakW: 0,
      priceEurPerKwh: touPrice,
      feedInEurPerKwh: 0.08,
    };
  },
};
