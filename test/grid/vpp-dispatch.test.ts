import { describe, expect, it } from 'vitest';
import { decide, type VppInput } from '../../policies/vpp-dispatch.js';
import { reading } from '../../src/model/reading.js';
import { evse, snapshot } from './helpers.js';

const NOW = Date.UTC(2026, 0, 1, 18);
const HOUR = 3_600_000;

const base: VppInput = {
  setpoint: { value: -50_000, source: 'openadr', eventId: 'd-1', label: 'openadr event "export" (d-1)' },
  setpointEnd: NOW + HOUR,
  battery: { id: 'bat', capacityWh: 200_000, maxChargeW: 60_000, maxDischargeW: 60_000, minSocPct: 20, maxSocPct: 95 },
  vehicles: [],
  v2gMinSocPct: 30,
  rampWPerS: 100_000,
  stepS: 1,
  staleAfterMs: 10_000,
  tier: 'grid',
};

function site(gridW: number, batteryW: number, socPct: number, evses = [] as ReturnType<typeof evse>[]) {
  return snapshot(NOW, gridW, evses, {
    battery: { powerW: reading(batteryW, NOW, 'bat'), socPct: reading(socPct, NOW, 'bat') },
  });
}

const v2g = (id: string, powerW: number) => evse(id, powerW, NOW, { bidirectional: true, maxCurrentA: 16 });

describe('policies/vpp-dispatch', () => {
  it('does nothing without a set-point', () => {
    const { setpoint: _drop, ...rest } = base;
    expect(decide(site(10_000, 0, 50), rest, NOW).requests).toEqual([]);
  });

  it('serves the set-point with the battery first', () => {
    // Site imports 10 kW, set-point -50 kW: 60 kW more export is needed; the battery gives its 60 kW.
    const d = decide(site(10_000, 0, 60), base, NOW);
    expect(d.requests).toHaveLength(1);
    expect(d.requests[0]).toMatchObject({ target: 'battery:bat', powerW: -60_000 });
    expect(d.requests[0]?.reason.text).toContain('d-1');
    expect(d.requests[0]?.reason.tier).toBe('grid');
  });

  it('then V2G vehicles that allow it, never those that do not or are at their floor', () => {
    const evses = [v2g('A/1', 0), v2g('B/1', 0), v2g('C/1', 0)];
    const d = decide(
      site(30_000, 0, 60, evses),
      {
        ...base,
        vehicles: [
          { evseId: 'A/1', allowDischarge: true, socPct: 80, capacityWh: 60_000 },
          { evseId: 'B/1', allowDischarge: false, socPct: 80, capacityWh: 60_000 },
          { evseId: 'C/1', allowDischarge: true, socPct: 30, capacityWh: 60_000 },
        ],
      },
      NOW,
    );
    const byTarget = Object.fromEntries(d.requests.map((r) => [r.target, r.powerW]));
    expect(byTarget['battery:bat']).toBe(-60_000);
    // 80 kW needed, 60 from the battery, 20 left: A gives it (11 kW max on 16 A x 3 x 230 V).
    expect(byTarget['evse:A/1']).toBe(-11_040);
    expect(byTarget['evse:B/1'] ?? 0).toBe(0);
    expect(byTarget['evse:C/1'] ?? 0).toBe(0);
  });

  it('keeps what a vehicle needs at departure', () => {
    const evses = [v2g('A/1', 0)];
    const d = decide(
      site(70_000, 0, 10, evses),
      {
        ...base,
        vehicles: [
          // 36 kWh on board, needs 40 kWh at departure right after the event: nothing to spare.
          {
            evseId: 'A/1',
            allowDischarge: true,
            socPct: 60,
            capacityWh: 60_000,
            departureAt: NOW + HOUR,
            requiredWhAtDeparture: 40_000,
          },
        ],
      },
      NOW,
    );
    expect(d.requests.find((r) => r.target === 'evse:A/1')).toBeUndefined();
    // Departure 4 h after the event: 3 h x 11 kW can be recharged, so it may feed.
    const d2 = decide(
      site(70_000, 0, 10, evses),
      {
        ...base,
        vehicles: [
          {
            evseId: 'A/1',
            allowDischarge: true,
            socPct: 60,
            capacityWh: 60_000,
            departureAt: NOW + 4 * HOUR,
            requiredWhAtDeparture: 40_000,
          },
        ],
      },
      NOW,
    );
    expect(d2.requests.find((r) => r.target === 'evse:A/1')?.powerW).toBeLessThan(0);
  });

  it('does not discharge the battery below its SoC floor', () => {
    const d = decide(site(10_000, 0, 20), base, NOW);
    expect(d.requests[0]?.powerW).toBe(0);
    expect(d.requests[0]?.reason.text).toContain('floor 20 %');
  });

  it('ramps from the measured power', () => {
    const d = decide(site(10_000, -5_000, 60), { ...base, rampWPerS: 10_000, stepS: 1 }, NOW);
    expect(d.requests[0]?.powerW).toBe(-15_000);
    expect(d.requests[0]?.reason.text).toContain('ramp');
  });

  it('charges the battery when the set-point asks the site to take more', () => {
    const d = decide(site(5_000, 0, 50), { ...base, setpoint: { ...base.setpoint!, value: 25_000 } }, NOW);
    expect(d.requests[0]).toMatchObject({ target: 'battery:bat', powerW: 20_000 });
  });

  it('a charging V2G vehicle asked to take less gets a cap on its EVSE (a request alone only raises charging)', () => {
    // Battery empty; the site imports 2 kW over the set-point: the charging vehicle takes 2 kW less.
    const evses = [v2g('A/1', 8000)];
    const input = { ...base, setpoint: { ...base.setpoint!, value: 10_000 } };
    const vehicles = [{ evseId: 'A/1', allowDischarge: true, socPct: 80, capacityWh: 60_000 }];
    const d = decide(site(12_000, 0, 20, evses), { ...input, vehicles }, NOW);
    expect(d.requests.find((r) => r.target === 'evse:A/1')?.powerW).toBe(6000);
    expect(d.limits).toEqual([expect.objectContaining({ scope: 'evse:A/1', maxImportW: 6000 })]);
    expect(d.limits[0]?.reason.tier).toBe('grid');
    // On target: the vehicle keeps feeding what it feeds instead of falling back to charging.
    const feeding = decide(site(10_000, 0, 20, [v2g('A/1', -3000)]), { ...input, vehicles }, NOW);
    expect(feeding.requests.find((r) => r.target === 'evse:A/1')?.powerW).toBe(-3000);
    expect(feeding.limits).toEqual([expect.objectContaining({ scope: 'evse:A/1', maxImportW: 0 })]);
  });

  it('stays out when the grid meter is stale', () => {
    const snap = snapshot(NOW, undefined, []);
    expect(decide(snap, base, NOW).requests).toEqual([]);
  });
});
