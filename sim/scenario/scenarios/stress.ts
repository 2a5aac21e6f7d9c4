import { dayDefaults, HOUR, loadPulse, outsideControl, ownChargerFleet, scenarioDay } from '../helpers.js';
import type { SiteCircuit } from '../types.js';

/**
 * 200 chargers on a 3-level tree: site (750 A, 450 kW) -> 4 feeders
 * (200 A) -> 16 sub-distributions (80 A) -> 12-13 chargers each. The
 * window is the busy evening only: 200 chargers over real sockets at 1 s
 * steps do not fit a whole night in the 5-minute budget.
 */
export const scenario = scenarioDay(
  'stress',
  '200 chargers, 3-level circuit tree, evening arrivals and a +60 kW load step (2 h window)',
  Date.UTC(2026, 2, 2),
  ({ day, rng, opts }) => {
    const startAt = day + 17 * HOUR;
    const circuits: SiteCircuit[] = [];
    for (let f = 0; f < 4; f++) {
      circuits.push({ id: `feeder-${f + 1}`, parent: 'site', maxCurrentA: 200 });
      for (let s = 0; s < 4; s++) {
        circuits.push({ id: `sub-${f + 1}.${s + 1}`, parent: `feeder-${f + 1}`, maxCurrentA: 80 });
      }
    }
    const capacityWh = 60_000;
    const { chargers, vehicles } = ownChargerFleet(rng, opts, {
      count: 200,
      chargerPrefix: 'S',
      vehiclePrefix: 'ev',
      tagPrefix: 'EV',
      circuit: (i) => `sub-${Math.floor((i % 16) / 4) + 1}.${(i % 4) + 1}`,
      rotation: (i) => Math.floor(i / 16),
      visit: () => {
        const socPct = 20 + rng() * 40;
        const arriveAt = startAt + 0.1 * HOUR + rng() * 1.2 * HOUR;
        const departAt = arriveAt + 1.5 * HOUR + rng() * HOUR;
        // Drawn after the vehicle's behaviour, as drawVisit calls it last.
        const neededWh = () => Math.round(Math.min(2000 + rng() * 8000, capacityWh * (0.95 - socPct / 100)));
        return { socPct, arriveAt, departAt, capacityWh, neededWh };
      },
    });
    return {
      site: { id: 'stress', limitW: 450_000, fuseA: 750, voltageV: 230, circuits, chargers },
      startAt,
      endAt: startAt + 2 * HOUR,
      vehicles,
      ...outsideControl(40_000, 1500, loadPulse(startAt + 1 * HOUR, startAt + 1.25 * HOUR, 60_000), 0),
      ...dayDefaults(6000),
      note: 'shortened to 17:00-19:00: 200 chargers over real sockets at 1 s steps do not fit a night in 5 minutes',
    };
  },
);
