import { dayDefaults, HOUR, loadPulse, outsideControl, ownChargerFleet, scenarioDay } from '../scenario/helpers.js';
import type { DrInterval } from '../scenario/types.js';

const MIN = 60_000;

/**
 * `dr-day`: a depot afternoon and evening under demand response. The utility
 * publishes import-capacity limits for the evening peak day-ahead, and one
 * more at short notice; compliance is judged at the site meter against each
 * limit, second by second, and an interval the site never got under counts
 * as a failed response.
 */
export const drDay = scenarioDay(
  'dr-day',
  'depot afternoon and evening, 16 chargers, utility import limits (day-ahead and short notice) over OpenADR',
  Date.UTC(2026, 0, 5),
  ({ day, rng, opts }) => {
    const { chargers, vehicles } = ownChargerFleet(rng, opts, {
      count: 16,
      chargerPrefix: 'R',
      vehiclePrefix: 'van',
      tagPrefix: 'DR',
      circuit: () => 'site',
      visit: () => {
        const socPct = 15 + rng() * 30;
        const arriveAt = day + 14.5 * HOUR + rng() * 3 * HOUR;
        const departAt = day + 21.5 * HOUR + Math.round(rng() * 60) * MIN;
        return { socPct, arriveAt, departAt, capacityWh: 75_000, neededWh: () => Math.round(15_000 + rng() * 15_000) };
      },
    });
    const dr: DrInterval[] = [
      { id: 'peak-1', start: day + 17 * HOUR, end: day + 18 * HOUR, importLimitW: 60_000 },
      { id: 'peak-2', start: day + 18 * HOUR, end: day + 19 * HOUR, importLimitW: 45_000 },
      { id: 'peak-3', start: day + 19 * HOUR, end: day + 19.5 * HOUR, importLimitW: 40_000 },
      {
        id: 'short-notice',
        start: day + 20.5 * HOUR,
        end: day + 20.75 * HOUR,
        importLimitW: 35_000,
        announcedAt: day + 20.5 * HOUR - 2 * MIN,
      },
    ];
    return {
      site: { id: 'dr-depot', limitW: 100_000, fuseA: 160, voltageV: 230, circuits: [], chargers },
      startAt: day + 14 * HOUR,
      endAt: day + 23 * HOUR,
      vehicles,
      ...outsideControl(12_000, 600, loadPulse(day + 18.25 * HOUR, day + 18.5 * HOUR, 8000), 0),
      dr,
      ...dayDefaults(2000),
      note: '14:00 to 23:00; the baseline gets each limit directly at its start (a simple external-limit input)',
    };
  },
);
