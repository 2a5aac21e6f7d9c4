import { describe, expect, it } from 'vitest';
import { runDrDay } from '../../sim/utility/dr-day.js';

describe('dr-day scenario (core + VEN + VTN sim over HTTP, virtual clock)', () => {
  it('honours every DR signal, with battery and V2G feed-in, with no feasible deadline missed, unlike the in-run baseline', {
    timeout: 180_000,
  }, async () => {
    const r = await runDrDay({ seed: 1, pollEveryS: 10 });
    const [gk, base] = r.controllers;
    expect(gk?.name).toBe('gridkeeper');
    expect(gk?.drCompliancePct).toBeGreaterThanOrEqual(99);
    expect(gk?.deadlinesMissed).toBe(0);
    expect(gk?.deadlinesFeasible).toBe(6);
    expect(gk?.batteryDischargeKwh).toBeGreaterThan(0);
    // The dispatch needs more than the battery gives: the bidirectional vehicles feed in the rest.
    expect(gk?.v2gEnergyKwh).toBeGreaterThan(0);
    expect(base?.v2gEnergyKwh).toBe(0);
    expect(gk?.reportsReceivedByVtn).toBeGreaterThan(0);
    expect(gk?.events.map((e) => e.id).sort()).toEqual(['dispatch', 'evening-peak', 'late-limit']);
    expect(gk?.responseSeconds.p99).toBeLessThanOrEqual(6);
    // The baseline ignores the signals: the evening peak is not met.
    expect(base?.drCompliancePct).toBeLessThan(90);
  });
});
