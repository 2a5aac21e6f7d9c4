import { describe, expect, it } from 'vitest';
import { reading } from '../../src/model/reading.js';
import { testCore } from '../helpers/core.js';

describe('several battery units in the process image', () => {
  it('keeps one unit as it is', () => {
    const core = testCore();
    core.state.start();
    core.bus.emit('battery', { socPct: reading(50, 1000, 'bms'), powerW: reading(-2000, 1000, 'bms') });
    const s = core.state.snapshot();
    expect(s.battery.socPct?.value).toBe(50);
    expect(s.battery.powerW).toMatchObject({ value: -2000, source: 'bms' });
    expect(s.batteries).toBeUndefined();
    core.state.stop();
    core.db.close();
  });

  it('adds power and limits, averages SoC, keeps the worst health and the oldest timestamp', () => {
    const core = testCore();
    core.state.start();
    core.bus.emit('battery', {
      socPct: reading(60, 2000, 'sunspec'),
      powerW: reading(1000, 2000, 'sunspec'),
      maxDischargePowerW: reading(5000, 2000, 'sunspec'),
    });
    core.bus.emit('battery', {
      socPct: reading(40, 1500, 'bms'),
      powerW: reading(-3000, 1500, 'bms'),
      sohPct: reading(91, 1500, 'bms'),
      maxDischargePowerW: reading(20000, 1500, 'bms'),
      alarms: reading(4, 1500, 'bms'),
    });
    // A later partial update of one unit replaces only its own values.
    core.bus.emit('battery', { powerW: reading(500, 2500, 'sunspec') });
    const s = core.state.snapshot();
    expect(s.battery.powerW).toMatchObject({ value: -2500, ts: 1500, source: 'batteries' });
    expect(s.battery.socPct?.value).toBe(50);
    expect(s.battery.sohPct?.value).toBe(91);
    expect(s.battery.maxDischargePowerW?.value).toBe(25000);
    expect(s.battery.alarms?.value).toBe(4);
    expect(Object.keys(s.batteries ?? {}).sort()).toEqual(['bms', 'sunspec']);
    expect(s.batteries?.sunspec?.powerW?.value).toBe(500);
    core.state.stop();
    core.db.close();
  });
});
