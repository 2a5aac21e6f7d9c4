import { describe, expect, it } from 'vitest';
import type { ScenarioDefinition, ScenarioVehicle, SiteCharger } from '../../sim/scenario/types.js';
import { runScenario } from '../../src/cli/scenario/run.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5, 18);

/**
 * Six minutes of a small site: four vans already plugged in, a 40 kW
 * contract, and the building load stepping up by 15 kW at minute 3. The
 * step must show up in the site's own accounting as lag over the limit,
 * and both controllers must then bring the site back under it.
 */
const stepSite: ScenarioDefinition = {
  name: 'step-site',
  description: 'four chargers, +25 kW building step',
  build(opts) {
    const chargers: SiteCharger[] = [1, 2, 3, 4].map((i) => ({
      id: `T${i}`,
      circuit: 'row',
      phases: 3,
      phaseRotation: 'L1L2L3',
      minCurrentA: 6,
      maxCurrentA: 32,
    }));
    const vehicles: ScenarioVehicle[] = chargers.map((c, i) => ({
      id: `van-${i + 1}`,
      chargerId: c.id,
      idTag: `TAGT${i + 1}`,
      arriveAt: T0 + 5000,
      departAt: T0 + 30 * MIN,
      capacityWh: 75_000,
      socPct: 20,
      maxCurrentA: 16,
      phases: 3,
      responseDelayMs: typeof opts.responseDelayMs === 'number' ? opts.responseDelayMs : 6000,
      overdrawA: i === 0 ? 1.5 : 0,
      minCurrentA: 6,
      neededWh: 5000,
    }));
    return {
      site: {
        id: 'step',
        limitW: 40_000,
        fuseA: 80,
        voltageV: 230,
        circuits: [{ id: 'row', parent: 'site', maxCurrentA: 63 }],
        chargers,
      },
      startAt: T0,
      endAt: T0 + 6 * MIN,
      vehicles,
      baseLoadW: 10_000,
      baseLoadNoiseW: 0,
      loadSteps: [{ at: T0 + 3 * MIN, w: 25_000 }],
      pvPeakW: 0,
      priceEurPerKwh: () => 0.3,
      feedInEurPerKwh: 0.08,
      gatewaySettings: { control: { policies: { loadManagement: { marginW: 2000 } } } },
    };
  },
};

describe('scenario harness (site on loopback sockets, virtual clock)', () => {
  it('measures what the site draws, a building-load step as lag over the limit, and the shedding after it', {
    timeout: 240_000,
  }, async () => {
    const gridW: Record<string, number[]> = { gridkeeper: [], 'baseline-30s': [] };
    const r = await runScenario('step-site', {
      definitions: [stepSite],
      hooks: { onSecond: (_now, site, controller) => gridW[controller]?.push(site.physics.gridPowerW()) },
    });
    expect(r.controllers.map((c) => c.name)).toEqual(['gridkeeper', 'baseline-30s']);
    for (const c of r.controllers) {
      const w = gridW[c.name] ?? [];
      expect(w.length).toBe(6 * 60);
      // The vans charged over OCPP, so the meter saw them (base load alone is 10 kW).
      expect(Math.max(...w.slice(0, 170))).toBeGreaterThan(20_000);
      expect(c.deliveredKwh).toBe(0); // nobody has left yet: energy is booked at departure
      // The +25 kW step at minute 3 is on the meter in the same second, whatever the controller does.
      expect((w[180] ?? 0) - (w[178] ?? 0)).toBeGreaterThan(20_000);
      // Lag is only ever counted in the window after the step (slowest van 6 s + 1 s).
      expect(c.overLimitLagS).toBeLessThanOrEqual(8);
      // Every controller got the site back under its contract: the last minute is within it.
      expect(Math.max(...w.slice(-60))).toBeLessThanOrEqual(40_000);
    }
    // The 30 s baseline was over the limit through the lag window and then until its next round:
    // the site books the first part as lag and the rest as judged.
    const base = r.controllers.find((c) => c.name === 'baseline-30s');
    expect(base?.limits['site contract']?.lagS).toBeGreaterThan(0);
    expect(base?.limits['site contract']?.judgedS).toBeGreaterThan(0);
  });
});
