import { describe, expect, it } from 'vitest';
import { type FleetDeadlinesConfig, fleetDeadlines } from '../../../policies/fleet-deadlines.js';
import { VehicleMaxMemory } from '../../../policies/vehicle-max.js';
import type { Decision } from '../../../src/model/decision.js';
import { reading } from '../../../src/model/reading.js';
import type { EvseState, OfferedSetpoint, PhaseValues, SiteSnapshot } from '../../../src/model/site.js';
import { chargingEvse } from '../../helpers/evse.js';
import { siteSnapshot } from '../../helpers/snapshot.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 5, 16);

const site = (now: number, evses: EvseState[]): SiteSnapshot => siteSnapshot(now, 20_000, evses);

/** A 32 A 3-phase charger whose vehicle draws `phaseA` at `now` under the set-point `offered`. */
function charging(
  id: string,
  now: number,
  phaseA: PhaseValues,
  offered?: OfferedSetpoint,
  over: Partial<EvseState> = {},
) {
  const drawn = phaseA[0] + phaseA[1] + phaseA[2];
  return chargingEvse(id, {
    sessionEnergyWh: 0,
    currentsA: reading(phaseA, now, id),
    powerW: reading(drawn * 230, now, id),
    ...(offered ? { offered } : {}),
    ...over,
  });
}

const offer32: OfferedSetpoint = { currentA: 32, phases: 3, since: T0 };
const vanOn1Phase = (now: number, over: Partial<EvseState> = {}) =>
  charging('A/1', now, [16, 0, 0], offer32, { vehiclePhases: 1, ...over });

/** The policy run once a second from `from` to `to` (inclusive) on the snapshots `at` gives; the last decision. */
function run(
  decide: ReturnType<typeof fleetDeadlines>,
  config: FleetDeadlinesConfig,
  from: number,
  to: number,
  at: (now: number) => EvseState[],
): Decision {
  let d: Decision = { limits: [], requests: [] };
  for (let now = from; now <= to; now += 1000) d = decide(site(now, at(now)), config, now);
  return d;
}

const base: FleetDeadlinesConfig = { needs: [], safetyFactor: 1.2, siteLimitW: 100_000, marginW: 0, chargeAhead: true };

describe('fleet-deadlines plans each vehicle at what it draws', () => {
  it('a 16 A 1-phase van on a 32 A 3-phase charger is planned at 3.7 kW once it has drawn 16 A of 32 A long enough', () => {
    // 7 kWh by +2 h: at 3.68 kW it takes 1.9 h (6 min to spare); at the charger's 32 A on one phase 57 min.
    const config: FleetDeadlinesConfig = {
      ...base,
      needs: [{ vehicleId: 'van', evseId: 'A/1', departureAt: T0 + 2 * H + 40_000, energyWh: 7000 }],
    };
    const policy = fleetDeadlines();
    const early = run(policy, config, T0, T0 + 20_000, (now) => [vanOn1Phase(now)]);
    // 20 s after the set-point the vehicle may still be on its way up: nothing learnt yet, so the
    // average x 1.2 (4.2 kW, 2 h 20 s before departure) and the rest of 32 A on one phase ahead.
    expect(early.requests.find((r) => r.reason.tier === 'fleet')?.powerW).toBeCloseTo(((7000 * 3600) / 7220) * 1.2, 6);
    expect(early.requests.find((r) => r.reason.tier === 'optimisation')?.powerW).toBeCloseTo(32 * 230, 6);
    const d = run(policy, config, T0 + 21_000, T0 + 40_000, (now) => [vanOn1Phase(now)]);
    const fleet = d.requests.find((r) => r.reason.tier === 'fleet');
    // Its average x 1.2 is more than it can draw: all it can, and nothing left to ask ahead.
    expect(fleet?.powerW).toBeCloseTo(16 * 230, 6);
    expect(d.requests.filter((r) => r.reason.tier === 'optimisation')).toEqual([]);
    expect(fleet?.reason.text).toMatch(/laxity 6 min, draws at most 16\.0 A/);
  });

  it("reports the departure as out of reach at the van's own power, where 32 A would have made it", () => {
    // 8 kWh in 2 h: 7.4 kWh at 3.68 kW, 14.7 kWh at 32 A on one phase.
    const config: FleetDeadlinesConfig = {
      ...base,
      needs: [{ vehicleId: 'van', evseId: 'A/1', departureAt: T0 + 2 * H + 40_000, energyWh: 8000 }],
    };
    const d = run(fleetDeadlines(), config, T0, T0 + 40_000, (now) => [vanOn1Phase(now)]);
    const fleet = d.requests.find((r) => r.reason.tier === 'fleet');
    expect(fleet?.reason.text).toMatch(/infeasible, 0\.6 kWh short/);
    expect(fleet?.powerW).toBeCloseTo(16 * 230, 6);
  });

  it("serves the 16 A van before a 32 A vehicle that only looks as pressed at the charger's maximum", () => {
    // Both 3-phase. Van: 10 kWh by +1.25 h (11 kW: 55 min, 20 min to spare; at 22 kW 47 min to spare).
    // Car: 12 kWh by +50 min at 22 kW (33 min: 17 min to spare).
    const config: FleetDeadlinesConfig = {
      ...base,
      needs: [
        { vehicleId: 'van', evseId: 'A/1', departureAt: T0 + 1.25 * H + 40_000, energyWh: 10_000 },
        { vehicleId: 'car', evseId: 'B/1', departureAt: T0 + (50 / 60) * H + 40_000, energyWh: 12_000 },
      ],
    };
    const at = (now: number) => [
      charging('A/1', now, [16, 16, 16], offer32),
      charging('B/1', now, [32, 32, 32], offer32),
    ];
    const d = run(fleetDeadlines(), config, T0, T0 + 40_000, at);
    expect(d.requests.filter((r) => r.reason.tier === 'fleet').map((r) => r.target)).toEqual(['evse:A/1', 'evse:B/1']);
  });

  it('learns nothing while every set-point in force was at or below what the vehicle draws', () => {
    const policy = fleetDeadlines();
    const config: FleetDeadlinesConfig = {
      ...base,
      needs: [{ vehicleId: 'van', evseId: 'A/1', departureAt: T0 + 4 * H, energyWh: 7000 }],
    };
    const offer16: OfferedSetpoint = { currentA: 16, phases: 3, since: T0 };
    const d = run(policy, config, T0, T0 + 60_000, (now) => [charging('A/1', now, [15.5, 15.5, 15.5], offer16)]);
    expect(d.requests.find((r) => r.reason.tier === 'optimisation')?.powerW).toBeCloseTo(32 * 3 * 230, 6);
  });
});

describe('VehicleMaxMemory', () => {
  it('counts a reading only after every set-point that may be in force has settled', () => {
    const m = new VehicleMaxMemory();
    // 10 A until T0 + 30 s, then 32 A: at T0 + 60 s the 10 A one may still be in force (35 s settle).
    const low: OfferedSetpoint = { currentA: 10, phases: 3, since: T0 - 60_000 };
    const high: OfferedSetpoint = { currentA: 32, phases: 3, since: T0 + 30_000 };
    for (let now = T0; now <= T0 + 60_000; now += 1000) {
      const e = charging('A/1', now, [16, 16, 16], now < T0 + 30_000 ? low : high);
      m.observe(site(now, [e]), now);
    }
    expect(m.maxA(charging('A/1', T0, [0, 0, 0]))).toBeUndefined();
    let e = charging('A/1', T0, [0, 0, 0]);
    for (let now = T0 + 61_000; now <= T0 + 66_000; now += 1000) {
      e = charging('A/1', now, [16, 16, 16], high);
      m.observe(site(now, [e]), now);
    }
    expect(m.maxA(e)).toBe(16);
  });

  it('forgets what it learnt when the vehicle draws more, and with a new session', () => {
    const m = new VehicleMaxMemory();
    const seen = (now: number, a: number, over: Partial<EvseState> = {}) => {
      const e = charging('A/1', now, [a, a, a], offer32, over);
      m.observe(site(now, [e]), now);
      return e;
    };
    let e = seen(T0 + 40_000, 16);
    expect(m.maxA(e)).toBe(16);
    // A taper near full: what it takes now.
    e = seen(T0 + 45_000, 12);
    expect(m.maxA(e)).toBe(12);
    // It draws 20 A after all: no longer capped at 12 A, and 20 A is still well below 32 A.
    e = seen(T0 + 50_000, 20);
    expect(m.maxA(e)).toBe(20);
    e = seen(T0 + 55_000, 31.5);
    expect(m.maxA(e)).toBeUndefined();
    seen(T0 + 60_000, 16);
    const next = { sessionId: 'next', sessionStart: T0 + 61_000 };
    e = charging('A/1', T0 + 61_000, [16, 16, 16], { currentA: 32, phases: 3, since: T0 + 61_000 }, next);
    m.observe(site(T0 + 61_000, [e]), T0 + 61_000);
    expect(m.maxA(e)).toBeUndefined();
  });

  it('takes neither a paused nor a suspended vehicle for a slow one', () => {
    const m = new VehicleMaxMemory();
    let e = charging('A/1', T0 + 40_000, [0, 0, 0], offer32);
    m.observe(site(T0 + 40_000, [e]), T0 + 40_000);
    expect(m.maxA(e)).toBeUndefined();
    e = charging('A/1', T0 + 41_000, [3, 3, 3], offer32, { status: 'SuspendedEV' });
    m.observe(site(T0 + 41_000, [e]), T0 + 41_000);
    expect(m.maxA(e)).toBeUndefined();
  });

  it('without per-phase currents, reads the measured power on the phases the vehicle draws on', () => {
    const m = new VehicleMaxMemory();
    const now = T0 + 40_000;
    const e = chargingEvse('A/1', { powerW: reading(16 * 230, now, 'A/1'), vehiclePhases: 1, offered: offer32 });
    m.observe(site(now, [e]), now);
    expect(m.maxA(e)).toBeCloseTo(16, 6);
    // An estimate is the gateway's own guess, not evidence.
    const m2 = new VehicleMaxMemory();
    const est = chargingEvse('A/1', { powerW: reading(16 * 230, now, 'estimate'), vehiclePhases: 1, offered: offer32 });
    m2.observe(site(now, [est]), now);
    expect(m2.maxA(est)).toBeUndefined();
  });
});
