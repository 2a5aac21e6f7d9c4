import { dayDefaults, feeders, HOUR, loadPulse, outsideControl, ownChargerFleet, scenarioDay } from '../helpers.js';

/**
 * A delivery-van depot at night: 40 AC chargers on two feeders, a tight
 * connection (200 A fuse, 130 kW contract), every van with a departure and
 * the energy it needs for tomorrow's route, and a workshop load that steps
 * up by 30 kW in the evening peak (outside any controller).
 */
export const scenario = scenarioDay(
  'depot',
  '40 chargers, night charging, tight fuse (200 A / 130 kW), two 125 A feeders, deadlines, +30 kW load step',
  Date.UTC(2026, 0, 5),
  ({ day, rng, opts }) => {
    const startAt = day + 15 * HOUR;
    const capacityWh = 75_000;
    const { chargers, vehicles } = ownChargerFleet(rng, opts, {
      count: 40,
      chargerPrefix: 'D',
      vehiclePrefix: 'van',
      tagPrefix: 'VAN',
      circuit: (i) => (i < 20 ? 'feeder-a' : 'feeder-b'),
      visit: () => {
        const socPct = 10 + rng() * 40;
        const arriveAt = day + 16.5 * HOUR + rng() * 4 * HOUR;
        const departAt = day + 28.5 * HOUR + rng() * 2.5 * HOUR;
        const neededWh = Math.round(Math.min(8000 + rng() * 22_000, capacityWh * (0.95 - socPct / 100)));
        return { socPct, arriveAt, departAt, capacityWh, neededWh };
      },
    });
    return {
      site: {
        id: 'depot',
        limitW: 130_000,
        fuseA: 200,
        voltageV: 230,
        circuits: feeders(125, 'feeder-a', 'feeder-b'),
        chargers,
      },
      startAt,
      endAt: day + 32 * HOUR,
      vehicles,
      ...outsideControl(
        15_000,
        800,
        [...loadPulse(day + 19 * HOUR, day + 20 * HOUR, 30_000), { at: day + 23 * HOUR, w: 1500 }],
        0,
      ),
      ...dayDefaults(3000),
      note: '15:00 to 08:00 (every visit of the night)',
    };
  },
);
