import { afterEach, describe, expect, it } from 'vitest';
import { MarginMeter } from '../../src/control/margin.js';
import type { Setpoint } from '../../src/model/decision.js';
import { reading } from '../../src/model/reading.js';
import { decide } from '../../policies/load-management.js';
import { testCore } from '../helpers/core.js';
import { evseSpec } from '../helpers/evse.js';

/**
 * Issue 15 item 2: the margin below the import limit is sized from what the control loop measures
 * (how far the building load moves within the vehicles' response time), with the configured margin as a floor, and shown with why.
 */

/** Deterministic noise in [-1, 1]. */
function noise(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return (x / 2147483648) * 2 - 1;
  };
}

describe('MarginMeter', () => {
  it('is 3σ of the building load change over the response time; a rare step is not kept back for ever', () => {
    const m = new MarginMeter();
    const rnd = noise(7);
    for (let t = 0; t < 30; t++) m.sample(t * 1000, 20_000 + 1000 * rnd());
    expect(m.margin(5000)).toBeDefined();
    const noisy = m.margin(5000)?.w ?? 0;
    // Uniform ±1 kW: the change over 5 s has a median size of about 0.6 kW: 3σ ≈ 2.6 kW.
    expect(noisy).toBeGreaterThan(1500);
    expect(noisy).toBeLessThan(4000);
    // A quiet building: a small margin, whatever one large load step did once.
    const quiet = new MarginMeter();
    for (let t = 0; t < 60; t++) quiet.sample(t * 1000, (t < 30 ? 20_000 : 120_000) + 20 * rnd());
    expect(quiet.margin(5000)?.w).toBeLessThan(200);
  });

  it('compares only samples the response time apart: a gap in the samples does not straddle a step', () => {
    // Samples in bursts (only while every draw is known): 7 s of them, a 40 s gap, a 100 kW step, 7 s more.
    const m = new MarginMeter();
    for (let t = 0; t < 35; t++) m.sample(t * 200, 20_000);
    for (let t = 0; t < 35; t++) m.sample(47_000 + t * 200, 120_000);
    expect(m.margin(5000)?.w).toBeLessThan(100);
  });

  it('says nothing before it has enough samples', () => {
    const m = new MarginMeter();
    for (let t = 0; t < 10; t++) m.sample(t * 1000, 20_000);
    expect(m.margin(5000)).toBeUndefined();
  });
});

describe('load management with a measured margin', () => {
  const snapshot = (measuredMargin?: { w: number; why: string }) => ({
    ts: 0,
    siteId: 's',
    grid: { powerW: reading(20_000, 0, 'meter') },
    pv: {},
    battery: {},
    evses: [],
    devices: [],
    stale: [],
    ...(measuredMargin ? { measuredMargin } : {}),
  });
  const config = { limitW: 100_000, marginW: 500, staleAfterMs: 5000, measuredMargin: true };

  it('keeps the measured margin when it is larger than the configured one, and says why', () => {
    const d = decide(snapshot({ w: 3000, why: 'building load moves ±3.00 kW' }), config, 0);
    expect(d.limits[0]?.maxImportW).toBeCloseTo(100_000 - 3000 - 20_000);
    expect(d.limits[0]?.reason.text).toMatch(/less 3\.0 kW margin \(measured: building load moves/);
  });

  it('keeps the configured margin when the measured one is not switched on, and names both', () => {
    const d = decide(
      snapshot({ w: 3000, why: 'building load moves ±3.00 kW' }),
      { ...config, measuredMargin: false },
      0,
    );
    expect(d.limits[0]?.maxImportW).toBeCloseTo(100_000 - 500 - 20_000);
    expect(d.limits[0]?.reason.text).toMatch(/less 0\.5 kW margin \(configured; measured 3\.0 kW/);
  });

  it('keeps the configured margin as a floor', () => {
    const d = decide(snapshot({ w: 100, why: 'building load moves ±0.10 kW' }), config, 0);
    expect(d.limits[0]?.maxImportW).toBeCloseTo(100_000 - 500 - 20_000);
    expect(d.limits[0]?.reason.text).toMatch(/less 0\.5 kW margin \(floor; measured 0\.1 kW/);
  });
});

describe('measured margin in the gateway core', () => {
  let stop: (() => void) | undefined;
  afterEach(() => stop?.());

  it('a noisy building load widens the margin below the limit (and the budget shrinks by it)', async () => {
    const core = testCore({
      site: { id: 't', limitW: 60_000, failsafeLimitW: 4_140, gridStaleAfterMs: 3000 },
      control: {
        intervalMs: 1000,
        coalesceMs: 50,
        policies: { loadManagement: { enabled: true, marginW: 500, measuredMargin: true } },
      },
    });
    const clock = core.vclock!;
    core.dispatcher.registerSink('CP1', { applySetpoint: async (_sp: Setpoint) => {} });
    core.start();
    stop = () => core.stop();
    core.bus.emit('evse.spec', evseSpec('CP1/1'));
    core.bus.emit('evse.live', { id: 'CP1/1', patch: { status: 'Charging', sessionId: 's1', sessionStart: 0 } });
    const rnd = noise(3);
    let base = 0;
    for (let i = 0; i < 60; i++) {
      clock.advance(1000);
      base = 20_000 + 2000 * rnd();
      const a = core.dispatcher.lastSent('CP1/1')?.currentA ?? 0;
      // The charger reports its vehicle's draw with every meter sample.
      core.bus.emit('evse.live', { id: 'CP1/1', patch: { powerW: reading(a * 690, clock.now(), 'cp') } });
      core.bus.emit('grid', { powerW: reading(base + a * 690, clock.now(), 'meter') });
      core.loop.runRound('manual');
      await core.dispatcher.idle();
    }
    const lm = core.loop.lastRound()?.limits.find((l) => l.scope === 'evses');
    const margin = core.loop.draws.margin();
    expect(margin?.w).toBeGreaterThan(2000);
    // The budget: limit − measured margin − building load (not − 500 W).
    expect(lm?.maxImportW).toBeLessThanOrEqual(60_000 - (margin?.w ?? 0) - base + 1);
    expect(lm?.reasons.map((r) => r.text).join(' ')).toMatch(/margin \(measured: building load moves/);
  });
});
