import { afterEach, describe, expect, it } from 'vitest';
import type { Setpoint } from '../../src/model/decision.js';
import { reading } from '../../src/model/reading.js';
import { feederCore } from '../helpers/core.js';
import { evseSpec } from '../helpers/evse.js';

const spec = evseSpec;

describe('control loop with the circuit-tree allocator (core default)', () => {
  let stop: (() => void) | undefined;
  afterEach(() => stop?.());

  function setup(n = 3) {
    const core = feederCore(40_000);
    const clock = core.vclock!;
    const written: Setpoint[] = [];
    for (let i = 1; i <= n; i++) {
      core.dispatcher.registerSink(`CP${i}`, {
        applySetpoint: async (sp) => {
          written.push(sp);
          // The vehicle follows at once and the charger reports its currents.
          const a = sp.currentA;
          core.bus.emit('evse.live', {
            id: sp.evseId,
            patch: { currentsA: reading([a, a, a] as const, clock.now(), 'cp') },
          });
        },
      });
    }
    core.start();
    stop = () => core.stop();
    for (let i = 1; i <= n; i++) {
      const id = `CP${i}/1`;
      core.bus.emit('evse.spec', spec(id, { circuitId: 'f1' }));
      core.bus.emit('evse.live', { id, patch: { status: 'Charging', sessionId: `s${i}`, sessionStart: clock.now() } });
    }
    return { core, clock, written };
  }

  it('keeps a feeder under its per-phase fuse and explains every set-point', async () => {
    const { core, clock } = setup(3);
    core.bus.emit('grid', { powerW: reading(2_000, clock.now(), 'meter') });
    // Unknown vehicles get a reserved overdraw, so the third one waits (minimum off time) until
    // the others have shown they follow their set-points; then all three share the feeder.
    for (let i = 0; i < 120; i++) {
      clock.advance(1000);
      core.bus.emit('grid', { powerW: reading(2_000, clock.now(), 'meter') });
      // Chargers report their currents periodically too.
      for (const id of ['CP1/1', 'CP2/1', 'CP3/1']) {
        const a = core.dispatcher.lastSent(id)?.currentA ?? 0;
        core.bus.emit('evse.live', { id, patch: { currentsA: reading([a, a, a] as const, clock.now(), 'cp') } });
      }
      await core.dispatcher.idle();
    }
    const sp = core.loop.lastRound()!.setpoints;
    const total = sp.reduce((s, x) => s + x.currentA, 0);
    expect(total).toBeLessThanOrEqual(20);
    expect(sp.map((s) => s.currentA)).toEqual([6.6, 6.6, 6.6]);
    expect(sp[0]!.reasons[0]!.text).toMatch(/circuit f1 fuse 20 A/);
  });

  it('falls to the failsafe budget within two intervals of the meter going stale', async () => {
    const { core, clock } = setup(2);
    core.bus.emit('grid', { powerW: reading(2_000, clock.now(), 'meter') });
    clock.advance(60);
    await core.dispatcher.idle();
    const staleAt = clock.now() + 3000; // gridStaleAfterMs after the last reading
    let engagedAt: number | undefined;
    core.bus.on('setpoint.changed', (c) => {
      if (engagedAt === undefined && c.setpoint.reasons[0]?.policy === 'failsafe') engagedAt = c.ts;
    });
    for (let i = 0; i < 60; i++) {
      clock.advance(100);
      await core.dispatcher.idle();
    }
    const round = core.loop.lastRound()!;
    expect(round.stale).toContain('grid.powerW');
    expect(round.setpoints.reduce((s, x) => s + x.powerW, 0)).toBeLessThanOrEqual(4_140);
    expect(engagedAt).toBeDefined();
    expect(engagedAt! - staleAt).toBeLessThanOrEqual(2 * 1000);
  });

  it('runs at least every interval without changes, and a change-driven round pushes the interval back', () => {
    const { core, clock } = setup(1);
    clock.advance(60_000); // ramps done: no more set-point changes
    const r0 = core.loop.rounds;
    clock.advance(5000);
    expect(core.loop.rounds - r0).toBe(5);
    clock.advance(500);
    core.bus.emit('grid', { powerW: reading(1_000, clock.now(), 'meter') });
    clock.advance(60); // change round at +0 ms
    const r1 = core.loop.rounds;
    clock.advance(900); // no interval round yet: the change round re-armed it
    expect(core.loop.rounds).toBe(r1);
    clock.advance(100);
    expect(core.loop.rounds).toBe(r1 + 1);
  });
});
