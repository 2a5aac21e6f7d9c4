import type { VehicleNeed } from '../../policies/fleet-deadlines.js';
import { createGatewayBus } from '../../src/bus/events.js';
import { corePolicies } from '../../src/cli/core.js';
import type { GatewayConfig } from '../../src/config/schema.js';
import { createTreeAllocator } from '../../src/control/allocator.js';
import { buildCircuitTree } from '../../src/control/circuit-tree.js';
import { ControlLoop } from '../../src/control/control-loop.js';
import { Dispatcher } from '../../src/control/dispatcher.js';
import { controlPolicies } from '../../src/control/policies.js';
import type { VirtualClock } from '../../src/model/clock.js';
import { reading } from '../../src/model/reading.js';
import { SiteState } from '../../src/state/site-state.js';
import { silentLogger } from '../../src/util/logger.js';
import { evseSpecs, type SimObserver, type SiteSim } from './site-sim.js';
import type { ScenarioDay } from './types.js';

/** A controller under test: it observes the simulated site and commands it. */
export interface SimController {
  readonly name: string;
  readonly observer: SimObserver;
  attach(sim: SiteSim): void;
  start(): void;
  stop(): void;
  /** Let asynchronous device writes complete (the dispatcher confirms through promises). */
  settle(): Promise<void>;
}

/**
 * gridkeeper itself, in-process: the real process image, policies, arbiter,
 * tree allocator, dispatcher and control loop, fed through the real bus the
 * way the adapters feed it (meter at 1 s, EVSE values on change and every
 * 5 s), acting through a dispatcher sink per charger.
 */
export function createGridkeeperController(
  day: ScenarioDay,
  config: GatewayConfig,
  clock: VirtualClock,
): SimController {
  const log = silentLogger();
  const bus = createGatewayBus();
  const needs = new Map<string, VehicleNeed>();
  let loopRef: ControlLoop | undefined;
  const state = new SiteState({
    siteId: config.site.id,
    clock,
    bus,
    gridStaleAfterMs: config.site.gridStaleAfterMs,
    staleAfterMs: config.site.staleAfterMs,
    onChange: () => loopRef?.notifyChange(),
  });
  const dispatcher = new Dispatcher({ clock, bus, log, deadbandA: config.control.deadbandA });
  const alloc = config.control.policies.allocator;
  const loop = new ControlLoop({
    clock,
    log,
    snapshot: () => state.snapshot(),
    policies: [
      ...corePolicies(config),
      ...controlPolicies(config, { needs: () => [...needs.values()], priceEurPerKwh: day.priceEurPerKwh }),
      ...(day.policies?.({ config, now: () => clock.now() }) ?? []),
    ],
    dispatcher,
    intervalMs: config.control.intervalMs,
    coalesceMs: config.control.coalesceMs,
    allocate: createTreeAllocator(
      // The same tree the simulator checks, from the same config.
      buildTree(config),
      {
        minOnMs: alloc.minOnMs,
        minOffMs: alloc.minOffMs,
        rampUpAPerS: alloc.rampUpAPerS,
        holdMaxMs: alloc.holdMaxMs,
        assumedOverdrawA: alloc.assumedOverdrawA,
        reservePct: alloc.reservePct,
        deadbandA: config.control.deadbandA,
      },
    ),
  });
  loopRef = loop;
  let sim: SiteSim | undefined;
  const V = config.site.voltageV;

  const observer: SimObserver = {
    plugged(e, v, now) {
      if (v.neededWh !== undefined) {
        needs.set(v.evseId, {
          vehicleId: v.id,
          evseId: v.evseId,
          departureAt: v.departAt,
          energyWh: v.neededWh,
          maxCurrentA: v.maxCurrentA,
          ...(v.announcesPhases ? { phases: v.phases } : {}),
        });
      }
      bus.emit('evse.live', {
        id: e.spec.id,
        patch: {
          status: 'Charging',
          sessionId: `${e.spec.id}#${e.sessionNo}`,
          sessionStart: now,
          idTag: v.idTag,
          sessionEnergyWh: 0,
          ...(v.announcesPhases ? { vehiclePhases: v.phases } : { vehiclePhases: undefined }),
          powerW: reading(0, now, e.spec.chargerId),
          currentsA: reading([0, 0, 0] as const, now, e.spec.chargerId),
        },
      });
    },
    unplugged(e, v, now) {
      needs.delete(v.evseId);
      bus.emit('evse.live', {
        id: e.spec.id,
        patch: {
          status: 'Available',
          sessionId: undefined,
          sessionStart: undefined,
          idTag: undefined,
          vehiclePhases: undefined,
          sessionEnergyWh: 0,
          powerW: reading(0, now, e.spec.chargerId),
          currentsA: reading([0, 0, 0] as const, now, e.spec.chargerId),
        },
      });
    },
    metered(s, now) {
      // Meters report every second; chargers on change and at least every 5 s.
      bus.emit('grid', { powerW: reading(s.gridW, now, 'grid-meter'), currentsA: reading(s.gridA, now, 'grid-meter') });
      if (s.day.pvPeakW > 0) bus.emit('pv', { powerW: reading(s.pvW, now, 'pv') });
      if (s.day.battery) {
        bus.emit('battery', {
          powerW: reading(s.batteryW, now, 'battery'),
          socPct: reading(s.batterySocPct, now, 'battery'),
        });
      }
      for (const e of s.evses.values()) {
        const veh = e.vehicle;
        if (!veh) continue;
        const a = veh.currentA();
        if (Math.abs(a - e.lastPublishedA) < 0.05 && now - e.lastPublishAt < 5000) continue;
        e.lastPublishedA = a;
        e.lastPublishAt = now;
        bus.emit('evse.live', {
          id: e.spec.id,
          patch: {
            powerW: reading(veh.powerW(V), now, e.spec.chargerId),
            currentsA: reading(veh.phaseCurrents(), now, e.spec.chargerId),
            sessionEnergyWh: veh.deliveredWh,
          },
        });
      }
    },
  };

  return {
    name: 'gridkeeper',
    observer,
    attach(s) {
      sim = s;
      for (const e of s.evses.values()) {
        dispatcher.registerSink(e.spec.id, {
          applySetpoint: async (sp) => sim?.command(sp.evseId, sp.currentA),
        });
      }
      if (day.battery) {
        dispatcher.registerSink(`battery:${day.battery.id}`, {
          applySetpoint: async (sp) => sim?.commandBattery(sp.powerW),
        });
      }
    },
    start() {
      state.start();
      for (const spec of evseSpecs(config)) {
        bus.emit('evse.spec', spec);
        bus.emit('evse.live', { id: spec.id, patch: { status: 'Available' } });
      }
      loop.start();
    },
    stop() {
      loop.stop();
      state.stop();
    },
    settle: () => dispatcher.idle(),
  };
}

function buildTree(config: GatewayConfig) {
  return buildCircuitTree({ fuseA: config.site.fuseA, circuits: config.site.circuits });
}

/**
 * The way common home energy managers work: every 30 s, read the meter,
 * compute what the contract leaves, and hand it out first come, first
 * served, each car at the charger maximum until nothing is left; a car
 * that would get less than 6 A gets nothing. It knows the site limit only
 * (no feeders, no phases, no deadlines, no solar); the battery does plain
 * self-consumption on the same tick.
 */
export function createBaselineController(day: ScenarioDay, config: GatewayConfig, clock: VirtualClock): SimController {
  let sim: SiteSim | undefined;
  let timer: ReturnType<VirtualClock['setInterval']> | undefined;
  const V = config.site.voltageV;
  const tick = () => {
    const s = sim;
    if (!s) return;
    let evW = 0;
    const plugged = [...s.evses.values()].filter((e) => e.vehicle && e.visit);
    for (const e of plugged) evW += e.vehicle?.powerW(V) ?? 0;
    const otherW = s.gridW - evW;
    let availW = config.site.limitW - otherW;
    plugged.sort((a, b) => (a.visit?.arriveAt ?? 0) - (b.visit?.arriveAt ?? 0));
    for (const e of plugged) {
      const wPerA = e.spec.phases * V;
      let a = Math.min(e.spec.maxCurrentA, Math.floor(availW / wPerA));
      if (a < e.spec.minCurrentA) a = 0;
      // A car offered current that draws nothing is full: it keeps its offer but holds no budget.
      const drawW = e.vehicle?.powerW(V) ?? 0;
      const full = e.offeredA > 0 && drawW < 100 && e.vehicle?.full === true;
      availW -= full ? 0 : drawW > 0 ? Math.min(a * wPerA, drawW) : a * wPerA;
      if (a !== e.offeredA) s.command(e.spec.id, a);
    }
    if (day.battery) {
      const without = s.gridW - s.batteryW;
      s.commandBattery(Math.max(-day.battery.maxDischargeW, Math.min(day.battery.maxChargeW, -without)));
    }
  };
  return {
    name: 'baseline-30s-fcfs',
    observer: {},
    attach(s) {
      sim = s;
    },
    start() {
      timer = clock.setInterval(tick, 30_000);
    },
    stop() {
      clock.clearInterval(timer);
    },
    settle: async () => {},
  };
}
