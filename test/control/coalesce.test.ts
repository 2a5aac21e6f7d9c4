import { describe, expect, it } from 'vitest';
import { createGatewayBus } from '../../src/bus/events.js';
import { ControlLoop } from '../../src/control/control-loop.js';
import { Dispatcher } from '../../src/control/dispatcher.js';
import { VirtualClock } from '../../src/model/clock.js';
import type { SiteSnapshot } from '../../src/model/site.js';
import { silentLogger } from '../../src/util/logger.js';
import { chargingEvse } from '../helpers/evse.js';

/** Device readings wait longer on a big site; meter readings keep `coalesceMs` and bring a waiting round forward. */
describe('control loop coalescing by kind of change', () => {
  function setup(evses: number) {
    const clock = new VirtualClock();
    const log = silentLogger();
    const snapshot = (): SiteSnapshot => ({
      ts: clock.now(),
      siteId: 't',
      grid: {},
      pv: {},
      battery: {},
      evses: Array.from({ length: evses }, (_, i) => chargingEvse(`CP${i}/1`)),
      devices: [],
      stale: [],
    });
    const loop = new ControlLoop({
      clock,
      log,
      snapshot,
      policies: [],
      dispatcher: new Dispatcher({ clock, bus: createGatewayBus(), log, deadbandA: 0.5 }),
      intervalMs: 1000,
      coalesceMs: 50,
      allocate: () => [],
    });
    loop.start(); // one round now, to size the window
    return { clock, loop };
  }

  it('at 500 EVSEs a charger reading waits 500 ms; a meter reading then runs the round within 50 ms', () => {
    const { clock, loop } = setup(500);
    const r0 = loop.rounds;
    clock.advance(100);
    loop.notifyChange(false);
    clock.advance(300);
    expect(loop.rounds).toBe(r0); // 400 ms after the last round: still waiting
    loop.notifyChange(false);
    clock.advance(100);
    expect(loop.rounds).toBe(r0 + 1); // 500 ms after the last round
    loop.notifyChange(false);
    clock.advance(10);
    loop.notifyChange(true); // the grid meter: due 50 ms after the last round, not 500
    clock.advance(40);
    expect(loop.rounds).toBe(r0 + 2);
    loop.stop();
  });

  it('on a small site a charger reading runs within coalesceMs as before', () => {
    const { clock, loop } = setup(20);
    const r0 = loop.rounds;
    clock.advance(100);
    loop.notifyChange(false);
    clock.advance(0);
    expect(loop.rounds).toBe(r0 + 1);
    loop.notifyChange(false);
    clock.advance(49);
    expect(loop.rounds).toBe(r0 + 1);
    clock.advance(1);
    expect(loop.rounds).toBe(r0 + 2);
    loop.stop();
  });
});
