import { afterEach, describe, expect, it } from 'vitest';
import type { Setpoint } from '../../src/model/decision.js';
import { reading } from '../../src/model/reading.js';
import { testCore } from '../helpers/core.js';
import { evseSpec } from '../helpers/evse.js';

const spec = evseSpec;

describe('gateway core (process image → policies → arbiter → dispatcher)', () => {
  let stop: (() => void) | undefined;
  afterEach(() => stop?.());

  function setup() {
    const core = testCore({
      site: { id: 't', limitW: 22_000, failsafeLimitW: 5_000, gridStaleAfterMs: 3000 },
      control: { intervalMs: 1000, coalesceMs: 50, policies: { loadManagement: { enabled: true, marginW: 0 } } },
    });
    const clock = core.vclock!;
    const written: Setpoint[] = [];
    core.dispatcher.registerSink('CP1', { applySetpoint: async (sp) => void written.push(sp) });
    core.dispatcher.registerSink('CP2', { applySetpoint: async (sp) => void written.push(sp) });
    core.start();
    stop = () => core.stop();
    for (const id of ['CP1/1', 'CP2/1']) {
      core.bus.emit('evse.spec', spec(id));
      core.bus.emit('evse.live', { id, patch: { status: 'Charging', sessionStart: clock.now() } });
    }
    return { core, clock, written };
  }

  it('shares what the site limit leaves after the base load among sessions, with reasons', async () => {
    const { core, clock, written } = setup();
    core.bus.emit('grid', { powerW: reading(8_200, clock.now(), 'meter') }); // base load, EVs idle
    clock.advance(60);
    await core.dispatcher.idle();
    const sp = core.loop.lastRound()!.setpoints;
    expect(sp).toHaveLength(2);
    // 22 kW - 8.2 kW = 13.8 kW for two 3-phase EVSEs: at most 10 A each (6.9 kW), shared equally.
    for (const s of sp) {
      expect(s.currentA).toBeGreaterThanOrEqual(6);
      expect(s.currentA).toBeLessThanOrEqual(10);
      expect(s.currentA).toBe(sp[0]?.currentA);
      expect(s.reasons[0]).toMatchObject({ policy: 'load-management', tier: 'contract' });
    }
    expect(written.map((w) => w.evseId).sort()).toEqual(['CP1/1', 'CP2/1']);
    const total = sp.reduce((s, x) => s + x.powerW, 0);
    expect(8_200 + total).toBeLessThanOrEqual(22_000);
  });

  it('sheds within one coalescing window after a load step', async () => {
    const { core, clock } = setup();
    core.bus.emit('grid', { powerW: reading(4_000, clock.now(), 'meter') });
    clock.advance(60);
    await core.dispatcher.idle();
    const sum = () => ['CP1/1', 'CP2/1'].reduce((s, id) => s + (core.dispatcher.lastSent(id)?.powerW ?? 0), 0);
    const before = sum();
    expect(4_000 + before).toBeLessThanOrEqual(22_000);
    // Building load step +10 kW, while the EVs still draw nothing (they have not followed yet).
    core.bus.emit('grid', { powerW: reading(14_000, clock.now(), 'meter') });
    clock.advance(60);
    await core.dispatcher.idle();
    const after = sum();
    expect(after).toBeLessThan(before);
    expect(14_000 + after).toBeLessThanOrEqual(22_000);
  });

  it('falls to the failsafe budget within two intervals when the meter goes stale, once per state change', async () => {
    const { core, clock } = setup();
    // Before the first reading the meter is stale: the core starts in failsafe.
    expect(core.loop.lastRound()!.stale).toContain('grid.powerW');
    const events: boolean[] = [];
    core.bus.on('failsafe', (e) => events.push(e.active));
    core.bus.emit('grid', { powerW: reading(2_000, clock.now(), 'meter') });
    clock.advance(60);
    expect(events).toEqual([false]);
    await core.dispatcher.idle();
    expect(core.dispatcher.lastSent('CP1/1')!.currentA).toBeGreaterThan(6);
    // No new readings: after gridStaleAfterMs (3 s) + at most 2 intervals the failsafe must hold.
    clock.advance(3000 + 2000);
    await core.dispatcher.idle();
    const round = core.loop.lastRound()!;
    expect(round.stale).toContain('grid.powerW');
    const total = round.setpoints.reduce((s, x) => s + x.powerW, 0);
    expect(total).toBeLessThanOrEqual(5_000);
    // Nobody is cut below the 6 A minimum: an EVSE either charges at >= 6 A under the failsafe, or is paused.
    for (const sp of round.setpoints) {
      if (sp.currentA > 0) {
        expect(sp.currentA).toBeGreaterThanOrEqual(6);
        expect(sp.reasons[0]).toMatchObject({ policy: 'failsafe', tier: 'safety' });
      }
    }
    expect(
      core.dispatcher.lastSent('CP1/1')!.currentA + core.dispatcher.lastSent('CP2/1')!.currentA,
    ).toBeLessThanOrEqual(5_000 / 690);
    clock.advance(5000);
    expect(events).toEqual([false, true]);
    core.bus.emit('grid', { powerW: reading(2_000, clock.now(), 'meter') });
    clock.advance(60);
    expect(events).toEqual([false, true, false]);
  });

  it('writes only changed set-points', async () => {
    const { core, clock, written } = setup();
    core.bus.emit('grid', { powerW: reading(8_200, clock.now(), 'meter') });
    clock.advance(60);
    await core.dispatcher.idle();
    const n = written.length;
    for (let i = 0; i < 5; i++) {
      core.bus.emit('grid', { powerW: reading(8_200 + (i % 2) * 50, clock.now(), 'meter') });
      clock.advance(1000);
      await core.dispatcher.idle();
    }
    expect(written.length).toBe(n);
    expect(core.dispatcher.stats.skipped).toBeGreaterThan(0);
  });
});
