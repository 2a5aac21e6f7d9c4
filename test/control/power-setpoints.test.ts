import { afterEach, describe, expect, it } from 'vitest';
import { createTreeAllocator } from '../../src/control/allocator.js';
import { buildCircuitTree } from '../../src/control/circuit-tree.js';
import type { Decision, PowerRequest, Setpoint } from '../../src/model/decision.js';
import { bindPolicy } from '../../src/model/policy.js';
import { reading } from '../../src/model/reading.js';
import type { EvseSpec } from '../../src/model/site.js';
import { evseSpec } from '../helpers/evse.js';
import { controlPolicies } from '../../src/cli/policies.js';
import { testConfig, testCore } from '../helpers/core.js';

/** Core + battery policy / a grid-tier V2G request -> the registered sinks; the dead-band in W. */

type Core = ReturnType<typeof testCore>;
let core: Core | undefined;
afterEach(() => {
  core?.stop();
  core = undefined;
});

function recorder(c: Core, key: string): Setpoint[] {
  const written: Setpoint[] = [];
  c.dispatcher.registerSink(key, { applySetpoint: async (sp) => void written.push(sp) });
  return written;
}

async function round(c: Core): Promise<void> {
  c.loop.runRound('manual');
  await c.dispatcher.idle();
}

describe('battery set-points reach the battery sink', () => {
  function setup() {
    const overrides = {
      site: { id: 't', limitW: 40_000, failsafeLimitW: 4_000, gridStaleAfterMs: 3000 },
      control: { policies: { battery: { enabled: true, id: 'bat', maxChargeW: 5000, maxDischargeW: 5000 } } },
    };
    // The battery policy as compose.ts binds it (the core itself runs only failsafe and load management).
    const c = testCore(overrides, { policies: controlPolicies(testConfig(overrides)) });
    core = c;
    const clock = c.vclock!;
    const written = recorder(c, 'battery:bat');
    c.start();
    const site = (gridW: number, batteryW: number) => {
      const now = clock.now();
      c.bus.emit('grid', { powerW: reading(gridW, now, 'meter') });
      c.bus.emit('pv', { powerW: reading(6000, now, 'pv') });
      c.bus.emit('battery', { powerW: reading(batteryW, now, 'bat'), socPct: reading(50, now, 'bat') });
    };
    return { c, clock, written, site };
  }

  it('a solar surplus becomes a charge set-point with its reason; an identical round writes nothing', async () => {
    const { c, clock, written, site } = setup();
    site(-3000, 0);
    await round(c);
    expect(written).toHaveLength(1);
    const sp = written[0] as Setpoint;
    expect(sp.evseId).toBe('battery:bat');
    expect(sp.powerW).toBeGreaterThan(0);
    expect(sp.reasons[0]?.policy).toBe('battery');
    expect(sp.reasons[0]?.tier).toBe('optimisation');
    clock.advance(1000);
    site(-3000, 0);
    await round(c);
    expect(written).toHaveLength(1);
    expect(c.dispatcher.current('battery:bat')?.powerW).toBe(sp.powerW);
  });

  it('uses a dead-band in W: 50 W more is not written, 1 kW more is, and so is a change of direction', async () => {
    const { c, clock, written, site } = setup();
    site(-3000, 0);
    await round(c);
    const first = written[0]?.powerW ?? 0;
    // Steps 3 s apart: the battery policy keeps a set-point until the meter can show it settled.
    clock.advance(3000);
    site(-3050, 0);
    await round(c);
    expect(written).toHaveLength(1);
    clock.advance(3000);
    site(-4000, 0);
    await round(c);
    expect(written).toHaveLength(2);
    expect(written[1]?.powerW).toBeGreaterThan(first + 500);
    // The building now imports: the battery is not to charge any more (it discharges or stops).
    clock.advance(3000);
    site(4000, 0);
    await round(c);
    expect(written.length).toBe(3);
    expect(written[2]?.powerW).toBeLessThanOrEqual(0);
  });
});

describe('V2G feed-in reaches the charger sink as a signed set-point', () => {
  const spec: EvseSpec = evseSpec('CP1/1', { maxCurrentA: 16, bidirectional: true });

  it('negative power and current, the dispatch reason first; an identical round writes nothing, 50 W neither', async () => {
    let feedW = 7000;
    const dispatch = bindPolicy(
      'vpp-dispatch',
      'grid',
      (): Decision => ({
        limits: [],
        requests: [
          {
            target: 'evse:CP1/1',
            powerW: -feedW,
            reason: { policy: 'vpp-dispatch', tier: 'grid', text: `V2G feeds ${feedW} W` },
          },
        ],
      }),
      {},
    );
    const c = testCore(
      { site: { id: 't', limitW: 40_000, failsafeLimitW: 4_000, gridStaleAfterMs: 3000 } },
      { policies: [dispatch] },
    );
    core = c;
    const clock = c.vclock!;
    const written = recorder(c, 'CP1');
    c.start();
    const tick = () => {
      clock.advance(1000);
      c.bus.emit('grid', { powerW: reading(5000, clock.now(), 'meter') });
    };
    tick();
    c.bus.emit('evse.spec', spec);
    c.bus.emit('evse.live', { id: 'CP1/1', patch: { status: 'Charging', sessionStart: clock.now() } });
    await round(c);
    expect(written).toHaveLength(1);
    expect(written[0]?.powerW).toBe(-7000);
    expect(written[0]?.currentA).toBeLessThan(0);
    expect(written[0]?.reasons[0]?.text).toBe('V2G feeds 7000 W');
    tick();
    await round(c);
    feedW = 7050;
    tick();
    await round(c);
    expect(written).toHaveLength(1);
    feedW = 9000;
    tick();
    await round(c);
    expect(written).toHaveLength(2);
    expect(written[1]?.powerW).toBe(-9000);
    // Feed-in ends: the EVSE goes back to charging, written at once.
    feedW = 0;
    tick();
    await round(c);
    expect(written.length).toBeGreaterThanOrEqual(3);
    for (const sp of written.slice(2)) expect(sp.powerW).toBeGreaterThanOrEqual(0);
  });
});

describe('createTreeAllocator: batteries', () => {
  it('a battery nobody asks for any more is set to 0 W instead of keeping its last set-point', () => {
    const c = testCore();
    core = c;
    const allocate = createTreeAllocator(buildCircuitTree({ circuits: [] }));
    const snap = c.state.snapshot();
    const dispatch: PowerRequest = {
      target: 'battery:bat',
      powerW: -40_000,
      reason: { policy: 'vpp-dispatch', tier: 'grid', text: 'dispatch' },
    };
    const during = allocate(snap, { limits: new Map(), requests: [dispatch], errors: [] });
    expect(during).toEqual([expect.objectContaining({ evseId: 'battery:bat', powerW: -40_000 })]);
    expect(during[0]?.reasons[0]?.text).toBe('dispatch');
    const after = allocate(snap, { limits: new Map(), requests: [], errors: [] });
    expect(after).toEqual([expect.objectContaining({ evseId: 'battery:bat', powerW: 0 })]);
    expect(after[0]?.reasons[0]?.text).toMatch(/no policy asks/);
  });
});
