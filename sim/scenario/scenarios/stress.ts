import type { ChargerConfig } from '../../../src/config/sections/site.js';
import { createRng } from '../../site/rng.js';
import { HOUR, ROTATIONS, responseDelay, touPrice } from '../helpers.js';
import type { ScenarioDefinition, ScenarioVehicle } from '../types.js';

/**
 * 200 chargers on a 3-level tree: site (750 A, 450 kW) -> 4 feeders
 * (200 A) -> 16 sub-distributions (80 A) -> 12-13 chargers each.
 */
export const scenario: ScenarioDefinition = {
  name: 'stress',
  description: '200 chargers, 3-level circuit tree (site -> 4 feeders -> 16 sub-distributions), night deadlines',
  build(opts) {
    const rng = createRng(opts.seed);
    const startAt = Date.UTC(2026, 2, 2, 12);
    const circuits: Array<{ id: string; parent: string; maxCurrentA: number }> = [];
    for (let f = 0; f < 4; f++) {
      circuits.push({ id: `feeder-${f + 1}`, parent: 'site', maxCurrentA: 200 });
      for (let s = 0; s < 4; s++)
        circuits.push({ id: `sub-${f + 1}.${s + 1}`, parent: `feeder-${f + 1}`, maxCurrentA: 80 });
    }
    const chargers: Array<Partial<ChargerConfig> & { id: string }> = [];
    const vehicles: ScenarioVehicle[] = [];
    for (let i = 0; i < 200; i++) {
      const id = `S${String(i + 1).padStart(3, '0')}`;
      const sub = i % 16;
      chargers.push({
        id,
        circuit: `sub-${Math.floor(sub / 4) + 1}.${(sub % 4) + 1}`,
        phases: 3,
        phaseRotation: ROTATIONS[Math.floor(i / 16) % 3],
        minCurrentA: 6,
        maxCurrentA: 32,
      });
      const kind = rng();
      const [maxCurrentA, phases] = kind < 0.6 ? [16, 3] : kind < 0.85 ? [32, 3] : [32, 1];
      const capacityWh = 60_000;
      const socPct = 20 + rng() * 40;
      vehicles.push({
        id: `ev-${i + 1}`,
        evseId: `${id}/1`,
        idTag: `TAG-EV-${i + 1}`,
        arriveAt: Math.round((startAt + 5 * HOUR + rng() * 4 * HOUR) / 1000) * 1000,
        departAt: Math.round((startAt + 17 * HOUR + rng() * 2 * HOUR) / 1000) * 1000,
        capacityWh,
        socPct,
        maxCurrentA,
        phases: phases as 1 | 3,
        responseDelayMs: responseDelay(rng, opts),
        overdrawA: rng() < 0.1 ? 1 + rng() * 0.5 : 0,
        neededWh: Math.round(Math.min(4000 + rng() * 12_000, capacityWh * (0.95 - socPct / 100))),
        announcesPhases: rng() < 0.5,
      });
    }
    return {
      config: {
        site: { id: 'stress', limitW: 450_000, fuseA: 750, failsafeLimitW: 100_000, circuits },
        chargers,
        control: { intervalMs: 1000, policies: { loadManagement: { marginW: 6000 } } },
        fleet: { deadlines: { safetyFactor: 1.2 } },
        store: { path: ':memory:' },
      },
      startAt,
      endAt: startAt + 24 * HOUR,
      vehicles,
      baseLoadW: 40_000,
      baseLoadNoiseW: 1500,
      loadSteps: [
        { at: startAt + 8 * HOUR, w: 3000 },
        { at: startAt + 13 * HOUR, w: -3000 },
      ],
      pvPeakW: 0,
      priceEurPerKwh: touPrice,
      feedInEurPerKwh: 0.08,
    };
  },
};
