import { describe, expect, it } from 'vitest';
import { decide as loadManagement } from '../../policies/load-management.js';
import { listScenarios, runScenario } from '../../sim/scenario/runner.js';
import { scenario as depot } from '../../sim/scenario/scenarios/depot.js';
import type { ScenarioDefinition } from '../../sim/scenario/types.js';
import { bindPolicy } from '../../src/model/policy.js';

// Whole simulated days (1 s physics, the real control loop): minutes of CPU on a loaded 2-core box.
const DAY_TIMEOUT = 900_000;

/** Depot evening only (2 h): arrivals, the first tight hour. For the quick checks. */
const depotEvening: ScenarioDefinition = {
  name: 'depot-evening',
  description: 'first two hours of the depot night',
  build(opts) {
    const d = depot.build(opts);
    return { ...d, startAt: d.startAt + 4.5 * 3_600_000, endAt: d.startAt + 6.5 * 3_600_000 };
  },
};

describe('scenario runner', () => {
  it('finds the scenarios in sim/scenario/scenarios/ (one file each)', async () => {
    const names = (await listScenarios()).map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['depot', 'hub', 'stress']));
  });

  it(
    'is deterministic for a seed and reports per-vehicle response delays',
    async () => {
      const opts = { definitions: [depotEvening], controllers: ['gridkeeper'] as const };
      const a = await runScenario('depot-evening', opts);
      const b = await runScenario('depot-evening', opts);
      expect(a.controllers).toEqual(b.controllers);
      expect(a.vehicles.responseDelayMs.max).toBeGreaterThan(a.vehicles.responseDelayMs.min);
      const fixed = await runScenario('depot-evening', { ...opts, responseDelayMs: 4000 });
      expect(fixed.vehicles.responseDelayMs).toEqual({ min: 4000, p50: 4000, max: 4000 });
    },
    DAY_TIMEOUT,
  );

  it(
    'a day can bring its own limit and policies (how a dr-day plugs in)',
    async () => {
      const drEvening: ScenarioDefinition = {
        name: 'dr-evening',
        description: 'depot evening with a 60 kW import cap 18:00-19:00',
        build(opts) {
          const d = depotEvening.build(opts);
          const from = d.startAt + 1.5 * 3_600_000;
          const to = from + 3_600_000;
          const cap = (ts: number) => (ts >= from && ts < to ? 60_000 : undefined);
          return {
            ...d,
            importCapW: cap,
            // The event is known ahead (as DR events are): the limit applies a minute before it starts,
            // so that even the slowest vehicle has followed when it begins.
            policies: () => [
              bindPolicy('dr-cap', 'grid', loadManagement, (now: number) => ({
                limitW: Math.min(cap(now) ?? Number.POSITIVE_INFINITY, cap(now + 60_000) ?? Number.POSITIVE_INFINITY),
                marginW: 3000,
                staleAfterMs: 10_000,
              })),
            ],
          };
        },
      };
      const r = await runScenario('dr-evening', { definitions: [drEvening] });
      const [gk, base] = r.controllers;
      expect(gk?.violationSeconds).toBe(0);
      expect(gk?.peakImportKw).toBeGreaterThan(60);
      expect(base?.violationSeconds).toBeGreaterThan(0);
    },
    DAY_TIMEOUT,
  );

  it('refuses an unknown scenario with the known names', async () => {
    await expect(runScenario('nope')).rejects.toThrow(/unknown scenario "nope"; known: .*depot/);
  });
});

describe.each(['depot', 'hub', 'stress'])('scenario %s (whole day)', (name) => {
  it(
    'gridkeeper: 0 violation seconds, 0 missed feasible deadlines; the 30 s FCFS baseline is worse',
    async () => {
      const r = await runScenario(name, { seed: 1 });
      const gk = r.controllers.find((c) => c.name === 'gridkeeper');
      const base = r.controllers.find((c) => c.name === 'baseline-30s-fcfs');
      expect(gk).toBeDefined();
      expect(base).toBeDefined();
      expect(Object.keys(gk!).sort()).toEqual(
        [
          'name',
          'violationSeconds',
          'peakImportKw',
          'deadlinesTotal',
          'deadlinesFeasible',
          'deadlinesMissed',
          'energyShortfallKwh',
          'solarSelfConsumptionPct',
          'costEur',
        ].sort(),
      );
      expect(gk!.deadlinesTotal).toBeGreaterThan(0);
      expect(gk!.deadlinesFeasible).toBeGreaterThan(0);
      expect(gk!.violationSeconds).toBe(0);
      expect(gk!.deadlinesMissed).toBe(0);
      expect(base!.violationSeconds + base!.deadlinesMissed).toBeGreaterThan(0);
    },
    DAY_TIMEOUT,
  );
});
