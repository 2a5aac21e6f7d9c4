import { afterEach, describe, expect, it } from 'vitest';
import { createGatewayBus } from '../../src/bus/events.js';
import { Dispatcher } from '../../src/control/dispatcher.js';
import { VirtualClock } from '../../src/model/clock.js';
import type { Setpoint } from '../../src/model/decision.js';
import { reading } from '../../src/model/reading.js';
import { silentLogger } from '../../src/util/logger.js';
import { testCore } from '../helpers/core.js';
import { evseSpec } from '../helpers/evse.js';

let stop: (() => void) | undefined;
afterEach(() => {
  stop?.();
  stop = undefined;
});

describe('set-points for chargers that are not connected', () => {
  it('are kept as wanted but not written while Offline, and written again when the charger is back', async () => {
    const core = testCore();
    const clock = core.vclock!;
    const written: Setpoint[] = [];
    core.dispatcher.registerSink('CP1', {
      applySetpoint: async (sp) => {
        written.push(sp);
      },
    });
    core.start();
    stop = () => core.stop();
    core.bus.emit('evse.spec', evseSpec('CP1/1'));
    core.bus.emit('evse.live', {
      id: 'CP1/1',
      patch: { status: 'Charging', sessionId: 's1', sessionStart: clock.now() },
    });
    core.bus.emit('grid', { powerW: reading(2000, clock.now(), 'meter') });
    core.loop.runRound('manual');
    await core.dispatcher.idle();
    expect(written.length).toBeGreaterThan(0);
    const charging = written.at(-1) as Setpoint;
    expect(charging.currentA).toBeGreaterThan(0);

    // The charger's device stops answering: its EVSE goes Offline. The loop still decides (0 A,
    // no session) but nothing is written to it, round after round.
    written.length = 0;
    core.bus.emit('evse.live', { id: 'CP1/1', patch: { status: 'Offline' } });
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      core.bus.emit('grid', { powerW: reading(2000, clock.now(), 'meter') });
      core.loop.runRound('manual');
    }
    await core.dispatcher.idle();
    expect(written).toEqual([]);
    expect(core.dispatcher.current('CP1/1')?.currentA).toBe(0);
    expect(core.dispatcher.lastSent('CP1/1')).toBeUndefined();

    // Back, with the same session: its set-point is written again, whatever was written before.
    core.bus.emit('evse.live', { id: 'CP1/1', patch: { status: 'Charging' } });
    clock.advance(1000);
    core.bus.emit('grid', { powerW: reading(2000, clock.now(), 'meter') });
    core.loop.runRound('manual');
    await core.dispatcher.idle();
    expect(written.length).toBeGreaterThan(0);
    expect(written.every((sp) => sp.evseId === 'CP1/1' && sp.currentA > 0)).toBe(true);
  });
});

describe('Dispatcher.dispatch with unreachable EVSEs', () => {
  it('leaves their set-points out of what it returns as in force (they are not written)', async () => {
    const clock = new VirtualClock();
    const d = new Dispatcher({ clock, bus: createGatewayBus(), log: silentLogger(), deadbandA: 0.5 });
    const written: Setpoint[] = [];
    d.registerSink('CP1', { applySetpoint: async (x) => void written.push(x) });
    d.registerSink('CP2', { applySetpoint: async (x) => void written.push(x) });
    const sp = (evseId: string, currentA: number): Setpoint => ({
      evseId,
      currentA,
      powerW: currentA * 690,
      phases: 3,
      reasons: [],
    });
    const inForce = d.dispatch([sp('CP1/1', 16), sp('CP2/1', 10)], new Set(['CP2/1']));
    await d.idle();
    expect(written.map((x) => x.evseId)).toEqual(['CP1/1']);
    expect(inForce.map((x) => x.evseId)).toEqual(['CP1/1']);
    // Still wanted: written once the charger is back.
    expect(d.current('CP2/1')?.currentA).toBe(10);
    const back = d.dispatch([sp('CP1/1', 16), sp('CP2/1', 10)]);
    await d.idle();
    expect(back.map((x) => x.evseId)).toEqual(['CP1/1', 'CP2/1']);
    expect(written.map((x) => x.evseId)).toEqual(['CP1/1', 'CP2/1']);
  });
});
