import { describe, expect, it } from 'vitest';
import { createGatewayBus } from '../../src/bus/events.js';
import { Dispatcher } from '../../src/control/dispatcher.js';
import { VirtualClock } from '../../src/model/clock.js';
import type { Setpoint } from '../../src/model/decision.js';
import { silentLogger } from '../../src/util/logger.js';

/** The dispatcher's pace: increases at most once per `increaseEveryMs` per EVSE, every cut at once. */

const sp = (evseId: string, currentA: number, phases: 1 | 3 = 3): Setpoint => ({
  evseId,
  currentA,
  powerW: currentA * 230 * phases,
  phases,
  reasons: [{ policy: 'test', tier: 'safety', text: `${currentA} A` }],
});

function setup() {
  const clock = new VirtualClock();
  // Two EVSEs here: the pace applies from one (by default from 100).
  const d = new Dispatcher({
    clock,
    bus: createGatewayBus(),
    log: silentLogger(),
    deadbandA: 0.5,
    increaseEveryMs: 1000,
    increasePaceFromEvses: 1,
  });
  const written: Setpoint[] = [];
  d.registerSink('CP1', { applySetpoint: async (x) => void written.push(x) });
  d.registerSink('battery:bat', { applySetpoint: async (x) => void written.push(x) });
  const step = async (ms: number, x: Setpoint) => {
    clock.advance(ms);
    const committed = d.dispatch([x]);
    await d.idle();
    return committed[0];
  };
  return { d, clock, written, step };
}

describe('dispatcher pace', () => {
  it('paces only big sites: with a few EVSEs every ramp step goes out', async () => {
    const clock = new VirtualClock();
    const d = new Dispatcher({
      clock,
      bus: createGatewayBus(),
      log: silentLogger(),
      deadbandA: 0.5,
      increaseEveryMs: 1000,
    });
    const written: number[] = [];
    d.registerSink('CP1', { applySetpoint: async (x) => void written.push(x.currentA) });
    for (const a of [10, 10.5, 11, 11.5]) {
      clock.advance(125);
      d.dispatch([sp('CP1/1', a)]);
      await d.idle();
    }
    expect(written).toEqual([10, 10.5, 11, 11.5]);
  });

  it('holds a ramp step until the pace allows it, then writes the latest; the device keeps the old one meanwhile', async () => {
    const { d, clock, written, step } = setup();
    await step(0, sp('CP1/1', 10));
    expect(await step(100, sp('CP1/1', 11))).toMatchObject({ currentA: 10 });
    expect(await step(400, sp('CP1/1', 12))).toMatchObject({ currentA: 10 });
    expect(written.map((x) => x.currentA)).toEqual([10]);
    expect(d.current('CP1/1')?.currentA).toBe(12); // what the loop wants, for the API
    clock.advance(499);
    await d.idle();
    expect(written.map((x) => x.currentA)).toEqual([10]);
    clock.advance(1); // a second after the last increase: the held one goes out without waiting for a round
    await d.idle();
    expect(written.map((x) => x.currentA)).toEqual([10, 12]);
    expect(await step(100, sp('CP1/1', 13))).toMatchObject({ currentA: 12 });
    expect(d.stats.paced).toBe(3);
    d.stop(); // drops the held increase and its timer
    expect(clock.pending()).toBe(0);
  });

  it('writes every cut, start, stop and phase change at once', async () => {
    const { written, step } = setup();
    await step(0, sp('CP1/1', 0));
    await step(10, sp('CP1/1', 16)); // start
    await step(10, sp('CP1/1', 12)); // cut
    await step(10, sp('CP1/1', 11.9)); // a small cut too
    await step(10, sp('CP1/1', 16, 1)); // to one phase
    await step(10, sp('CP1/1', 0)); // stop
    expect(written.map((x) => [x.currentA, x.phases])).toEqual([
      [0, 3],
      [16, 3],
      [12, 3],
      [11.9, 3],
      [16, 1],
      [0, 3],
    ]);
  });

  it('a cut while a ramp step is held goes out at once and the held step is dropped', async () => {
    const { written, step } = setup();
    await step(0, sp('CP1/1', 10));
    await step(100, sp('CP1/1', 14));
    await step(100, sp('CP1/1', 8));
    await step(1000, sp('CP1/1', 8));
    expect(written.map((x) => x.currentA)).toEqual([10, 8]);
  });

  it('does not pace power set-points (a battery discharge may be what meets the import cap)', async () => {
    const { written, step } = setup();
    const bat = (w: number): Setpoint => ({ ...sp('battery:bat', 0), currentA: w / 690, powerW: w });
    await step(0, bat(-1000));
    await step(10, bat(-3000));
    await step(10, bat(-5000));
    expect(written.map((x) => x.powerW)).toEqual([-1000, -3000, -5000]);
  });
});
