import { describe, expect, it } from 'vitest';
import { siteDemandW, siteMeasurements } from '../../src/grid/measurements.js';
import { reading } from '../../src/model/reading.js';
import { evse, snapshot } from './helpers.js';

const NOW = Date.UTC(2026, 0, 1, 12);

describe('site measurements for reports and OSCP', () => {
  const snap = snapshot(
    NOW,
    30_000,
    [
      evse('A/1', 11_000, NOW),
      evse('B/1', -7_000, NOW, { bidirectional: true }),
      evse('C/1', 0, NOW, { status: 'SuspendedEVSE', maxCurrentA: 16 }),
    ],
    { battery: { powerW: reading(-5_000, NOW, 'bat'), socPct: reading(50, NOW, 'bat') } },
  );

  it('reports the site, the battery and the V2G vehicles', () => {
    const m = siteMeasurements(snap, { staleAfterMs: 10_000, batteryId: 'bat', batteryMaxDischargeW: 20_000 });
    expect(m.siteW).toBe(30_000);
    expect(m.resources).toEqual({ bat: -5_000, v2g: -7_000 });
    expect(m.evsesW).toBe(4_000);
    expect(m.flexibleW).toBe(4_000 + 20_000);
  });

  it('estimates the uncapped demand: other load plus every session at its maximum', () => {
    // Other load: 30 - 4 + 5 = 31 kW; sessions: 22.08 + 22.08 + 11.04 kW.
    expect(siteDemandW(snap, { staleAfterMs: 10_000 })).toBeCloseTo(31_000 + 22_080 * 2 + 11_040, 0);
    expect(siteDemandW(snapshot(NOW, undefined, []), { staleAfterMs: 10_000 })).toBeUndefined();
  });
});
