import type { ChargerConfig } from '../../../src/config/sections/site.js';
import { createRng } from '../../site/rng.js';
import { HOUR, ROTATIONS, responseDelay, touPrice } from '../helpers.js';
import type { ScenarioDefinition, ScenarioVehicle } from '../types.js';

/**
 * A public / fleet hub by day: 20 AC chargers in two rows, 120 kWp PV, a
 * 200 kWh battery, peak shaving at 70 kW; short visits, some with a
 * departure and energy need, some opportunistic.
 */
export const scenario: ScenarioDefinition = {
  name: 'hub',
  description: '20 chargers, PV 120 kWp + battery 200 kWh, daytime visits, peak shaving at 70 kW',
  build(opts) {
    const rng = createRng(opts.seed);
    const startAt = Date.UTC(2026, 5, 15, 0);
    const chargers: Array<Partial<ChargerConfig> & { id: string }> = [];
    const vehicles: ScenarioVehicle[] = [];
    let n = 0;
    for (let i = 0; i < 20; i++) {
      const id = `H${String(i + 1).padStart(2, '0')}`;
      chargers.push({
        id,
        circuit: i < 10 ? 'row-1' : 'row-2',
        phases: 3,
        phaseRotation: ROTATIONS[i % 3],
        minCurrentA: 6,
        maxCurrentA: 32,
      });
      let t = startAt + 7.5 * HOUR + rng() * 2 * HOUR;
      while (t < startAt + 18 * HOUR) {
        const dwell = (1 + rng() * 3) * HOUR;
        const kind = rng();
        const [maxCurrentA, phases] = kind < 0.5 ? [16, 3] : kind < 0.8 ? [32, 3] : [32, 1];
        const maxW = maxCurrentA * phases * 230;
        const deadline = rng() < 0.6;
        // Needs a fleet would ask for: at most 60 % of what the car could take alone.
        const neededWh = deadline
          ? Math.round(Math.min(25_000, 0.6 * maxW * (dwell / HOUR)) * (0.4 + 0.6 * rng()))
          : undefined;
        n++;
        vehicles.push({
          id: `car-${n}`,
          evseId: `${id}/1`,
          idTag: `TAG-CAR-${n}`,
          arriveAt: Math.round(t / 1000) * 1000,
          departAt: Math.round((t + dwell) / 1000) * 1000,
          capacityWh: 60_000,
          socPct: 20 + rng() * 30,
          maxCurrentA,
          phases: phases as 1 | 3,
          responseDelayMs: responseDelay(rng, opts),
          overdrawA: rng() < 0.15 ? 1 + rng() * 0.5 : 0,
          ...(neededWh !== undefined ? { neededWh } : {}),
          announcesPhases: rng() < 0.5,
        });
        t += dwell + (0.2 + rng()) * HOUR;
      }
    }
    return {
      config: {
        site: {
          id: 'hub',
          limitW: 100_000,
          fuseA: 160,
          failsafeLimitW: 30_000,
          circuits: [
            { id: 'row-1', parent: 'site', maxCurrentA: 100 },
            { id: 'row-2', parent: 'site', maxCurrentA: 100 },
          ],
        },
        chargers,
        control: {
          intervalMs: 1000,
          policies: {
            loadManagement: { marginW: 3000 },
            solar: { enabled: true, mode: 'min+solar', priority: 'battery-first' },
            battery: {
              enabled: true,
              id: 'bat1',
              maxChargeW: 60_000,
              maxDischargeW: 60_000,
              socFloorPct: 10,
              socCeilingPct: 95,
              dischargeForEvs: true,
            },
            peakShaving: { enabled: true, targetW: 70_000, marginW: 2000 },
          },
        },
        fleet: { deadlines: { safetyFactor: 1.2 } },
        store: { path: ':memory:' },
      },
      startAt,
      endAt: startAt + 24 * HOUR,
      vehicles,
      baseLoadW: 20_000,
      baseLoadNoiseW: 1000,
      loadSteps: [
        { at: startAt + 11.5 * HOUR, w: 1500 },
        { at: startAt + 14 * HOUR, w: 0 },
      ],
      pvPeakW: 120_000,
      battery: { id: 'bat1', capacityWh: 200_000, socPct: 40, maxChargeW: 60_000, maxDischargeW: 60_000 },
      priceEurPerKwh: touPrice,
      feedInEurPerKwh: 0.08,
    };
  },
};
