import {
  chargerRow,
  dayDefaults,
  drawPlug,
  drawVisit,
  feeders,
  HOUR,
  loadPulse,
  outsideControl,
  scenarioDay,
} from '../helpers.js';
import type { ScenarioVehicle, SiteCharger } from '../types.js';

/**
 * A public / fleet hub by day: 20 AC chargers in two rows, 120 kWp PV with
 * its own meter, peak shaving at 70 kW; short visits, some with a departure
 * and energy need, some opportunistic; clouds make the PV drop.
 */
export const scenario = scenarioDay(
  'hub',
  '20 chargers, PV 120 kWp, daytime visits, peak shaving at 70 kW',
  Date.UTC(2026, 5, 15),
  ({ day, rng, opts }) => {
    const chargers: SiteCharger[] = [];
    const vehicles: ScenarioVehicle[] = [];
    let n = 0;
    for (let i = 0; i < 20; i++) {
      const id = `H${String(i + 1).padStart(2, '0')}`;
      chargers.push(chargerRow(id, i < 10 ? 'row-1' : 'row-2', i));
      let t = day + 7.5 * HOUR + rng() * 2 * HOUR;
      while (t < day + 17 * HOUR) {
        const dwell = (1 + rng() * 3) * HOUR;
        const plug = drawPlug(rng, [0.5, 0.8]);
        const maxW = plug.maxCurrentA * plug.phases * 230;
        const deadline = rng() < 0.6;
        const neededWh = deadline
          ? Math.round(Math.min(25_000, 0.6 * maxW * (dwell / HOUR)) * (0.4 + 0.6 * rng()))
          : undefined;
        n++;
        vehicles.push(
          drawVisit(rng, opts, {
            id: `car-${n}`,
            chargerId: id,
            idTag: `TAGCAR${n}`,
            arriveAt: t,
            departAt: t + dwell,
            capacityWh: 60_000,
            socPct: 20 + rng() * 30,
            plug,
            ...(neededWh !== undefined ? { neededWh } : {}),
          }),
        );
        t += dwell + (0.2 + rng()) * HOUR;
      }
    }
    return {
      site: {
        id: 'hub',
        limitW: 100_000,
        fuseA: 160,
        voltageV: 230,
        circuits: feeders(100, 'row-1', 'row-2'),
        chargers,
      },
      startAt: day + 7 * HOUR,
      endAt: day + 21 * HOUR,
      vehicles,
      ...outsideControl(20_000, 1000, loadPulse(day + 11.5 * HOUR, day + 12 * HOUR, 25_000), 120_000),
      ...dayDefaults(3000, {
        solar: { enabled: true, mode: 'min+solar' },
        peakShaving: { enabled: true, targetW: 70_000, marginW: 2000 },
      }),
      note: '07:00 to 21:00 (every visit of the day); the battery of the old hub day is not simulated yet',
    };
  },
);
