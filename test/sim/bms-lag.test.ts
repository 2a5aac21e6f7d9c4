import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/model/clock.js';
import { BmsServer } from '../../sim/devices/opcua/bms-server.js';
import { SitePhysics } from '../../sim/site/physics.js';

describe('simulated BMS response', () => {
  it('follows a set-point at once by default', () => {
    const clock = new VirtualClock();
    const bms = new BmsServer({ clock });
    bms.setSetpoint(-9000);
    expect(bms.powerW).toBe(-9000);
  });

  it('answers at once but moves after its response delay, at its ramp rate, and the site sees that', () => {
    const clock = new VirtualClock();
    const physics = new SitePhysics({ clock, baseLoadW: 0, baseLoadNoiseW: 0 });
    const bms = new BmsServer({ clock, physics, responseDelayMs: 1000, rampWPerS: 20_000, stepMs: 250 });
    bms.setSetpoint(-15_000);
    expect(bms.setpointW).toBe(-15_000);
    expect(bms.powerW).toBe(0);
    const at = (ms: number) => {
      clock.advance(ms);
      bms.step();
      return bms.powerW;
    };
    expect(at(750)).toBe(0);
    expect(at(250)).toBe(-5000); // the delay is over: one 250 ms ramp step
    expect(at(250)).toBe(-10_000);
    expect(at(250)).toBe(-15_000);
    expect(at(250)).toBe(-15_000);
    expect(physics.controllableW()).toBe(-15_000);
  });
});
