import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/model/clock.js';
import { SimCharger } from '../../../sim/devices/ocpp/charger.js';
import { SitePhysics } from '../../../sim/site/physics.js';
import { SimVehicle } from '../../../sim/site/vehicle.js';
import { type Stack, perTest, waitFor } from './helpers.js';

describe('OCPP 2.1 V2G: feed-in ends, charging resumes', () => {
  const t = perTest();

  async function boot(id: string, connectors: number) {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    const stack = await t.start({ clock, chargers: [{ id, bidirectional: true, connectors }] });
    const physics = new SitePhysics({ clock });
    const charger = t.add(
      new SimCharger({
        id,
        protocol: 'ocpp2.1',
        url: stack.proxy.url(),
        clock,
        physics,
        connectors,
        meterIntervalMs: 10_000,
        bidirectional: true,
      }),
    );
    await charger.start();
    const s = stack;
    const cp = charger;
    await waitFor(() => cp.booted && s.proxy.upstreamOnline(id), { what: 'boot' });
    const vehicle = new SimVehicle(
      {
        id: 'EV',
        capacityWh: 60_000,
        socPct: 50,
        maxCurrentA: 16,
        phases: 3,
        responseDelayMs: 0,
        bidirectional: true,
      },
      clock.now(),
    );
    await cp.plugIn(vehicle, 'V2G-TAG');
    await waitFor(() => s.cms.received('TransactionEvent').length >= 1, { what: 'session started' });
    return { ...s, stack: s, clock, cp, physics };
  }

  async function send(s: Stack, evseId: string, currentA: number, powerW: number, n: number) {
    s.core.dispatcher.dispatch([{ evseId, currentA, powerW, phases: 3, reasons: [] }]);
    await waitFor(() => s.core.dispatcher.lastSent(evseId)?.powerW === powerW, { what: `set-point ${n}` });
  }

  it('single EVSE: a charging set-point clears the discharge profile, so the vehicle charges at the new limit', async () => {
    const { clock, core, cp, physics, stack: s } = await boot('V2S', 1);
    // The first charging set-point of a bidirectional charger clears a discharge profile a previous gateway
    // run may have left (the charger answers Unknown: there is none) and still succeeds.
    await send(s, 'V2S/1', 16, 11_040, 1);
    const clears = () => cp.received.filter((r) => r.action === 'ClearChargingProfile');
    expect(clears().map((r) => r.params)).toEqual([{ chargingProfileId: 900_001 }]);

    await send(s, 'V2S/1', 7.2, -5000, 2);
    expect(cp.dischargeSetpointW(1)).toBe(-5000);
    await waitFor(() => (core.state.evse('V2S/1')?.powerW?.value ?? 0) < -4000, {
      clock,
      advanceMs: 1000,
      what: 'feeding in',
    });

    // Feed-in ends: the dispatch asks the vehicle to charge at 10 A again.
    await send(s, 'V2S/1', 10, 6900, 3);
    expect(clears()).toHaveLength(2);
    expect(clears().at(-1)?.params).toEqual({ chargingProfileId: 900_001 });
    expect(cp.dischargeSetpointW(1)).toBeUndefined();
    expect(cp.profiles.map((p) => [p.purpose, p.connectorId, p.limit])).toEqual([['ChargingStationMaxProfile', 0, 10]]);
    expect(cp.effectiveLimitA(cp.connectors[0] as never)).toBe(10);
    await waitFor(() => (core.state.evse('V2S/1')?.powerW?.value ?? 0) > 6000, {
      clock,
      advanceMs: 1000,
      what: 'charging again',
    });
    expect(physics.controllableW()).toBeCloseTo(6900, -2);
    // Charging on: no more clears (nothing to clear).
    await send(s, 'V2S/1', 8, 5520, 4);
    expect(clears()).toHaveLength(2);
  });

  it('several EVSEs: charge and discharge share the per-EVSE profile id, so a charging write replaces the discharge', async () => {
    const { cp, stack: s } = await boot('V2M', 2);
    await send(s, 'V2M/1', 7.2, -5000, 1);
    expect(cp.dischargeSetpointW(1)).toBe(-5000);
    await send(s, 'V2M/1', 10, 6900, 2);
    expect(cp.dischargeSetpointW(1)).toBeUndefined();
    expect(cp.profiles.filter((p) => p.connectorId === 1).map((p) => [p.id, p.purpose, p.unit, p.limit])).toEqual([
      [900_001, 'TxDefaultProfile', 'A', 10],
    ]);
    expect(cp.effectiveLimitA(cp.connectors[0] as never)).toBe(10);
    expect(cp.received.filter((r) => r.action === 'ClearChargingProfile')).toHaveLength(0);
  });
});
