import { describe, expect, it } from 'vitest';
import { testCore } from '../helpers/core.js';

describe('battery set-points in the process image', () => {
  it('keeps the last set-point each battery confirmed, with the one before it', () => {
    const core = testCore();
    core.state.start();
    const sp = (evseId: string, powerW: number) => ({ evseId, currentA: 0, powerW, phases: 3 as const, reasons: [] });
    core.bus.emit('setpoint.changed', { setpoint: sp('battery:bms', -9000), ts: 1000 });
    core.bus.emit('setpoint.changed', {
      setpoint: sp('battery:bms', -4000),
      previous: sp('battery:bms', -9000),
      ts: 5000,
    });
    core.bus.emit('setpoint.changed', { setpoint: sp('CP1/1', 7000), ts: 5000 });
    const s = core.state.snapshot();
    expect(s.batteryCommands).toEqual({ bms: { powerW: -4000, ts: 5000, previousW: -9000 } });
    core.state.stop();
    core.db.close();
  });

  it('has none before the first', () => {
    const core = testCore();
    core.state.start();
    expect(core.state.snapshot().batteryCommands).toBeUndefined();
    core.state.stop();
    core.db.close();
  });
});
