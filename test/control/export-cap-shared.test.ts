import { describe, expect, it } from 'vitest';
import { decide as gridSignals, EMPTY_GRID_INPUT } from '../../policies/grid-signals.js';
import { decide as vppDispatch, type VppInput } from '../../policies/vpp-dispatch.js';
import { createTreeAllocator } from '../../src/control/allocator.js';
import { arbitrate, mergeLimits } from '../../src/control/arbiter.js';
import { buildCircuitTree } from '../../src/control/circuit-tree.js';
import type { Setpoint } from '../../src/model/decision.js';
import { bindPolicy } from '../../src/model/policy.js';
import { reading } from '../../src/model/reading.js';
import { evse, snapshot } from '../grid/helpers.js';

/** Issue 9: battery discharge and V2G feed-in share one export cap, the battery served first. */

const NOW = Date.UTC(2026, 0, 5, 18);
const HOUR = 3_600_000;
const EXPORT_CAP = { value: 10_000, source: 'openadr', eventId: 'x-1', label: 'openadr event "export" (x-1)' };

function vppInput(batteryMaxW: number): VppInput {
  return {
    setpoint: { value: -30_000, source: 'openadr', eventId: 'd-1', label: 'openadr event "dispatch" (d-1)' },
    setpointEnd: NOW + HOUR,
    battery: {
      id: 'bat',
      capacityWh: 100_000,
      maxChargeW: batteryMaxW,
      maxDischargeW: batteryMaxW,
      minSocPct: 10,
      maxSocPct: 95,
    },
    vehicles: ['A/1', 'B/1'].map((evseId) => ({
      evseId,
      allowDischarge: true,
      socPct: 80,
      capacityWh: 60_000,
      maxDischargeW: 7000,
    })),
    v2gMinSocPct: 30,
    rampWPerS: 100_000,
    stepS: 1,
    staleAfterMs: 10_000,
    tier: 'grid',
  };
}

/** One control round: grid-signals and vpp-dispatch arbitrated, then the loop's allocator. */
function round(gridW: number, batteryMaxW: number): { battery: Setpoint; v2g: Setpoint[] } {
  const evses = ['A/1', 'B/1'].map((id) => evse(id, 0, NOW, { bidirectional: true, maxCurrentA: 16 }));
  const snap = snapshot(NOW, gridW, evses, {
    battery: { powerW: reading(0, NOW, 'bat'), socPct: reading(60, NOW, 'bat') },
  });
  const policies = [
    bindPolicy('grid-signals', 'grid', gridSignals, {
      ...EMPTY_GRID_INPUT,
      exportLimits: [EXPORT_CAP],
      batteryId: 'bat',
    }),
    bindPolicy('vpp-dispatch', 'grid', vppDispatch, vppInput(batteryMaxW)),
  ];
  const allocate = createTreeAllocator(buildCircuitTree({ fuseA: 63, circuits: [] }), {
    rampUpAPerS: 1000,
    assumedOverdrawA: 0,
    minOffMs: 0,
    minOnMs: 0,
  });
  const sps = allocate(snap, arbitrate(policies, snap, NOW));
  const battery = sps.find((s) => s.evseId === 'battery:bat');
  if (!battery) throw new Error('no battery set-point');
  return { battery, v2g: sps.filter((s) => s.evseId !== 'battery:bat') };
}

const exported = (sps: readonly Setpoint[]) => sps.reduce((s, sp) => s + Math.max(0, -sp.powerW), 0);

describe('battery and V2G share one export cap', () => {
  it('battery first (8 kW), V2G gets only the 2 kW left of a 10 kW export cap, each naming the binding limit', () => {
    const { battery, v2g } = round(0, 8000);
    expect(battery.powerW).toBe(-8000);
    expect(v2g).toHaveLength(2);
    const v2gW = exported(v2g);
    expect(v2gW).toBeLessThanOrEqual(2000);
    expect(v2gW).toBeGreaterThan(1500); // the headroom is used, not thrown away
    expect(8000 + v2gW).toBeLessThanOrEqual(EXPORT_CAP.value);
    for (const sp of v2g) {
      expect(sp.reasons.length).toBeGreaterThan(0);
      if (sp.powerW > -7000) {
        expect(sp.reasons[0]?.text).toContain('export limit 10.0 kW');
        expect(sp.reasons[0]?.text).toContain('battery');
      }
    }
  });

  it('a battery that could give more than the cap takes all of it and V2G is paused with the reason', () => {
    const { battery, v2g } = round(0, 12_000);
    expect(battery.powerW).toBe(-10_000);
    expect(battery.reasons[0]?.text).toContain('export limit 10.0 kW');
    for (const sp of v2g) {
      expect(sp.powerW).toBe(0);
      expect(sp.reasons[0]?.text).toContain('export limit 10.0 kW');
    }
  });

  it('counts what the site already exports from other sources (PV feeding 1 kW leaves 9 kW)', () => {
    const { battery, v2g } = round(-1000, 8000);
    expect(battery.powerW).toBe(-8000);
    const v2gW = exported(v2g);
    expect(v2gW).toBeLessThanOrEqual(1000);
    expect(8000 + v2gW + 1000).toBeLessThanOrEqual(EXPORT_CAP.value);
  });
});

describe('createTreeAllocator: a limit capping import and export at once (the fallback)', () => {
  it('takes the battery off its export part only; charging keeps the plain import reason', () => {
    const fallback = { policy: 'grid-signals', tier: 'grid' as const, text: 'fallback limit 20.0 kW: VTN gone' };
    const limits = [
      { scope: 'evses', maxImportW: 20_000, maxExportW: 10_000, reason: fallback },
      { scope: 'battery:bat', maxExportW: 10_000, reason: fallback },
    ];
    const requests = [
      { target: 'battery:bat', powerW: -8000, reason: { policy: 'vpp-dispatch', tier: 'grid' as const, text: 'bat' } },
      { target: 'evse:V/1', powerW: -7000, reason: { policy: 'vpp-dispatch', tier: 'grid' as const, text: 'v2g' } },
    ];
    const evses = [
      evse('V/1', 0, NOW, { bidirectional: true, maxCurrentA: 16 }),
      evse('C/1', 0, NOW, { maxCurrentA: 32 }),
    ];
    const allocate = createTreeAllocator(buildCircuitTree({ fuseA: 63, circuits: [] }), {
      rampUpAPerS: 1000,
      assumedOverdrawA: 0,
      minOffMs: 0,
      minOnMs: 0,
    });
    const sps = allocate(snapshot(NOW, 0, evses), {
      limits: mergeLimits(limits),
      rawLimits: limits,
      requests,
      errors: [],
    });
    const by = new Map(sps.map((s) => [s.evseId, s]));
    expect(by.get('battery:bat')?.powerW).toBe(-8000);
    const v = by.get('V/1');
    expect(-(v?.powerW ?? 0)).toBeLessThanOrEqual(2000);
    expect(-(v?.powerW ?? 0)).toBeGreaterThan(1500);
    expect(v?.reasons[0]?.text).toMatch(
      /^fallback limit 20\.0 kW: VTN gone, less 8\.0 kW discharged first by battery bat/,
    );
    const c = by.get('C/1');
    expect(c?.powerW).toBeGreaterThan(0);
    expect(c?.powerW).toBeLessThanOrEqual(20_000);
    for (const r of c?.reasons ?? []) expect(r.text).not.toContain('discharged first');
    expect(c?.reasons.map((r) => r.text)).toContain(fallback.text);
  });
});
