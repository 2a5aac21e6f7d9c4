import { describe, expect, it } from 'vitest';
import { decide, type VppInput } from '../../policies/vpp-dispatch.js';
import { createGatewayBus } from '../../src/bus/events.js';
import { V2gResponse } from '../../src/grid/v2g-response.js';
import { reading } from '../../src/model/reading.js';
import { evse, snapshot } from './helpers.js';

const NOW = Date.UTC(2026, 0, 1, 18);

const input: VppInput = {
  setpoint: { value: -10_000, source: 'openadr', eventId: 'd-1', label: 'openadr event "v2g" (d-1)' },
  setpointEnd: NOW + 3_600_000,
  vehicles: [],
  v2gMinSocPct: 30,
  rampWPerS: 100_000,
  stepS: 1,
  staleAfterMs: 10_000,
  tier: 'grid',
};
// 32 A x 3 x 230 V = 22 kW EVSEs.
const v2g = (id: string, powerW: number, extra = {}) =>
  evse(id, powerW, NOW, { bidirectional: true, maxCurrentA: 32, ...extra });

describe('VPP dispatch within each vehicle’s real capability (issue 15 item 6)', () => {
  it('never asks a vehicle for more than it states (ISO 15118 / OCPP 2.1 needs), even with the SoC unknown', () => {
    // Site imports 10 kW; -10 kW asked: 20 kW more feed-in needed, the vehicle allows 11 kW.
    const d = decide(
      snapshot(NOW, 10_000, [v2g('A/1', 0)]),
      { ...input, vehicles: [{ evseId: 'A/1', allowDischarge: true, maxDischargeW: 11_000 }] },
      NOW,
    );
    expect(d.requests.find((r) => r.target === 'evse:A/1')?.powerW).toBe(-11_000);
    const short = d.limits.find((l) => l.scope === 'site');
    expect(short?.reason.text).toMatch(/shortfall 9\.0 kW .*A\/1: vehicle allows 11\.0 kW/);
  });

  it('splits the target over the vehicles by their capability', () => {
    const d = decide(
      snapshot(NOW, 0, [v2g('A/1', 0), v2g('B/1', 0)]),
      {
        ...input,
        vehicles: [
          { evseId: 'A/1', allowDischarge: true, maxDischargeW: 4_000 },
          { evseId: 'B/1', allowDischarge: true, maxDischargeW: 11_000 },
        ],
      },
      NOW,
    );
    const by = Object.fromEntries(d.requests.map((r) => [r.target, r.powerW]));
    expect(by['evse:A/1']).toBeGreaterThanOrEqual(-4_000);
    expect(by['evse:B/1']).toBeGreaterThanOrEqual(-11_000);
    expect((by['evse:A/1'] ?? 0) + (by['evse:B/1'] ?? 0)).toBe(-10_000);
    expect(d.limits.some((l) => l.reason.text.includes('shortfall'))).toBe(false);
  });

  it('re-plans without a vehicle that went SuspendedEV or ignored its set-point: the others take its share', () => {
    const vehicles = [
      { evseId: 'A/1', allowDischarge: true, maxDischargeW: 11_000 },
      { evseId: 'B/1', allowDischarge: true, maxDischargeW: 11_000 },
      { evseId: 'C/1', allowDischarge: true, maxDischargeW: 11_000 },
    ];
    const d = decide(
      snapshot(NOW, 0, [v2g('A/1', 0, { status: 'SuspendedEV' }), v2g('B/1', 0), v2g('C/1', 0)]),
      { ...input, vehicles, unresponsive: [{ evseId: 'B/1', why: 'asked to feed 5.0 kW, measured 0.0 kW after 3 s' }] },
      NOW,
    );
    const by = Object.fromEntries(d.requests.map((r) => [r.target, r.powerW]));
    expect(by['evse:A/1'] ?? 0).toBe(0);
    expect(by['evse:B/1'] ?? 0).toBe(0);
    expect(by['evse:C/1']).toBe(-10_000);
  });

  it('V2gResponse: a vehicle that does not follow a discharge set-point within 3 s is left out for a while', () => {
    const bus = createGatewayBus();
    const r = new V2gResponse({ followMs: 3000, holdMs: 60_000 });
    r.attach(bus);
    const sp = { evseId: 'B/1', currentA: -7.2, powerW: -5000, phases: 3 as const, reasons: [] };
    bus.emit('setpoint.changed', { setpoint: sp, ts: 1000 });
    bus.emit('evse.live', { id: 'B/1', patch: { powerW: reading(0, 2000, 'B') } });
    expect(r.unresponsive(2000)).toEqual([]); // still within its response time
    bus.emit('evse.live', { id: 'B/1', patch: { powerW: reading(0, 4500, 'B') } });
    expect(r.unresponsive(4500).map((u) => u.evseId)).toEqual(['B/1']);
    expect(r.unresponsive(4500)[0]?.why).toContain('asked to feed 5.0 kW');
    expect(r.unresponsive(70_000)).toEqual([]);
    // A vehicle that follows is never left out; SuspendedEV under a discharge set-point is.
    bus.emit('setpoint.changed', { setpoint: { ...sp, evseId: 'C/1' }, ts: 1000 });
    bus.emit('evse.live', { id: 'C/1', patch: { powerW: reading(-4900, 4500, 'C') } });
    expect(r.unresponsive(4500)).toEqual([]);
    // Going SuspendedEV later (it stops feeding) leaves it out too, at once.
    bus.emit('evse.live', { id: 'C/1', patch: { status: 'SuspendedEV', powerW: reading(0, 5000, 'C') } });
    expect(r.unresponsive(5000).map((u) => u.evseId)).toEqual(['C/1']);
  });
});
