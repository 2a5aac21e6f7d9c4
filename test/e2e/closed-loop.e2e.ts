import { describe, expect, it } from 'vitest';
import { closedLoop } from '../../bench/closed-loop.js';

/**
 * Issue 15's targets on a shortened closed-loop run: `gridkeeper run` in its
 * own process, a site peer process (Modbus meter = base load + what 20
 * factory-default OCPP 1.6J chargers' vehicles really draw), base load
 * stepping 20 → 120 → 20 kW under a 200 kW limit (twice with 5 s-late vehicles), each held 26–32 s (long
 * enough for 6 s of steady operation after the 20 s the profile count
 * leaves to the vehicles). The full figures come from
 * `npm run bench -- closed-loop`.
 */
describe('closed-loop site (issue 15 targets, short run)', () => {
  it('vehicles at once: configures the chargers, fills the headroom, never crosses the limit, sheds within 1 s, few profiles', async () => {
    const r = await closedLoop({ lagMs: 0, periodMs: 26_000, steps: 2 });
    // The gateway made every charger report per-phase current often (factory default: 60 s, un-phased).
    expect(r.configured).toMatch(/^every charger: MeterValueSampleInterval 5, .*Current\.Import/);
    expect(r.overLimitS).toBe(0);
    expect(r.headroomPct).toHaveLength(2);
    for (const h of r.headroomPct) expect(h).toBeGreaterThanOrEqual(95);
    expect(r.fillMs).toHaveLength(1);
    expect(r.fillMs[0]).toBeLessThanOrEqual(10_000);
    expect(r.reactionMs).toHaveLength(1);
    expect(r.reactionMs[0]).toBeLessThanOrEqual(1000);
    expect(r.steadyProfilesPerMin).toBeLessThanOrEqual(6);
  }, 240_000);

  // The bench's four steps, not two: a drop of the 5 s-late headroom in its second step up (87.8 % in one
  // period of four) passed the two-step run unseen in session 5.
  it('vehicles 5 s late: never over the limit beyond the lag, headroom filled once they followed, few profiles', async () => {
    const r = await closedLoop({ lagMs: 5000, periodMs: 32_000, steps: 4 });
    expect(r.overLimitS).toBeLessThanOrEqual(1);
    expect(r.headroomPct).toHaveLength(4);
    for (const h of r.headroomPct) expect(h).toBeGreaterThanOrEqual(95);
    expect(r.fillMs).toHaveLength(2);
    for (const f of r.fillMs) expect(f).toBeLessThanOrEqual(20_000);
    expect(r.reactionMs.length).toBeGreaterThanOrEqual(1);
    for (const ms of r.reactionMs) expect(ms).toBeLessThanOrEqual(1000);
    expect(r.steadyProfilesPerMin).toBeLessThanOrEqual(6);
  }, 420_000);
});
