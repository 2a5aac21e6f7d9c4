import { describe, expect, it } from 'vitest';
import { decide } from '../../../policies/operator-commands.js';
import { mergeLimits } from '../../../src/control/arbiter.js';
import { buildCircuitTree } from '../../../src/control/circuit-tree.js';
import { allocateTree } from '../../../src/control/tree-allocator.js';
import { VirtualClock } from '../../../src/model/clock.js';
import { OperatorCommands } from '../../../src/state/operator-commands.js';
import { evseSpec } from '../../helpers/evse.js';

describe('operator commands (MQTT /set)', () => {
  it('caps one EVSE until cleared and says who set it', () => {
    const clock = new VirtualClock(0);
    let changes = 0;
    const ops = new OperatorCommands(clock, () => changes++);
    ops.setEvseCap('CP1/1', 10, 'mqtt');
    const evses = ['CP1/1', 'CP2/1'].map((id) => ({ ...evseSpec(id), status: 'Charging' as const }));
    const d = decide({} as never, ops.input(clock.now()), clock.now());
    const tree = buildCircuitTree({ circuits: [] });
    const { setpoints: sp } = allocateTree({ tree, evses, limits: mergeLimits(d.limits), now: clock.now() });
    expect(sp.find((s) => s.evseId === 'CP1/1')?.currentA).toBe(10);
    expect(sp.find((s) => s.evseId === 'CP1/1')?.reasons[0]?.text).toContain('operator cap 10 A set by mqtt');
    // The other EVSE is not capped by the operator (the allocator may still ramp it up in steps).
    const other = sp.find((s) => s.evseId === 'CP2/1');
    expect(other?.currentA).toBeGreaterThanOrEqual(6);
    expect(other?.reasons.map((r) => r.policy)).not.toContain('operator');
    ops.setEvseCap('CP1/1', null, 'mqtt');
    expect(decide({} as never, ops.input(clock.now()), clock.now()).limits).toEqual([]);
    expect(changes).toBe(2);
  });

  it('asks for a battery set-point that ends on its own', () => {
    const clock = new VirtualClock(0);
    const ops = new OperatorCommands(clock);
    ops.setBattery('bms', -5000, 'mqtt', 60_000);
    const d = decide({} as never, ops.input(clock.now()), clock.now());
    expect(d.requests).toEqual([
      expect.objectContaining({
        target: 'battery:bms',
        powerW: -5000,
        reason: expect.objectContaining({ tier: 'contract' }),
      }),
    ]);
    clock.advance(60_000);
    expect(decide({} as never, ops.input(clock.now()), clock.now()).requests).toEqual([]);
  });
});
