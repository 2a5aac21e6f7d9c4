import { Gauge, Histogram } from 'prom-client';
import { createGatewayBus } from '../bus/events.js';
import type { GatewayConfig } from '../config/schema.js';
import { createTreeAllocator } from '../control/allocator.js';
import { buildCircuitTree } from '../control/circuit-tree.js';
import { ControlLoop, type ControlRound } from '../control/control-loop.js';
import { Dispatcher } from '../control/dispatcher.js';
import type { Clock } from '../model/clock.js';
import type { BoundPolicy } from '../model/policy.js';
import { SiteState } from '../state/site-state.js';
import { type Migration, openDatabase } from '../store/db.js';
import { CORE_MIGRATIONS } from '../store/migrations.js';
import { SessionStore } from '../store/session-store.js';
import { SetpointAudit } from '../store/setpoint-audit.js';
import { TelemetryStore } from '../store/telemetry-store.js';
import type { Logger } from '../util/logger.js';
import { createMetricsRegistry } from '../util/metrics.js';
import type { GatewayContext } from '../context.js';
import { corePolicies } from './policies.js';

export interface CoreDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Migrations of the components that will be attached (outboxes, keys, ...). */
  readonly migrations?: readonly Migration[];
  /** Extra policies (beyond failsafe and load management), already bound. */
  readonly policies?: readonly BoundPolicy[];
  readonly defaultMetrics?: boolean;
}

/** The gateway core with its lifecycle: everything but the adapters and servers. */
export interface Core extends GatewayContext {
  start(): void;
  stop(): void;
}

/**
 * Build the core of a gateway from a validated config: bus, process image,
 * store, dispatcher and control loop. Adapters and servers are attached by
 * the composition root (`compose.ts`).
 */
export function createCore(config: GatewayConfig, deps: CoreDeps): Core {
  const { clock, log } = deps;
  const metrics = createMetricsRegistry({ defaultMetrics: deps.defaultMetrics ?? true });
  const bus = createGatewayBus((event, err) => log.error({ event, err }, 'bus handler failed'));
  const db = openDatabase({ path: config.store.path, migrations: [...CORE_MIGRATIONS, ...(deps.migrations ?? [])] });
  const sessions = new SessionStore(db);
  const setpointAudit = new SetpointAudit(db);
  const telemetry = new TelemetryStore(db, config.store.telemetryRetentionHours * 3_600_000);
  const dispatcher = new Dispatcher({
    clock,
    bus,
    log,
    deadbandA: config.control.deadbandA,
    deadbandW: config.control.deadbandW,
    increaseEveryMs: config.control.intervalMs,
    audit: (ts, sp, result) => setpointAudit.record(ts, sp, result),
  });

  const roundDuration = new Histogram({
    name: 'gridkeeper_control_round_seconds',
    help: 'Duration of one control round (decide + allocate)',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1],
    registers: [metrics],
  });
  const failsafeGauge = new Gauge({
    name: 'gridkeeper_failsafe_active',
    help: '1 while the failsafe limit applies (grid meter stale)',
    registers: [metrics],
  });

  let failsafeActive = false;
  const onRound = (round: ControlRound) => {
    roundDuration.observe(round.durationMs / 1000);
    const active = round.stale.includes('grid.powerW');
    if (active !== failsafeActive) {
      failsafeActive = active;
      failsafeGauge.set(active ? 1 : 0);
      const reason = active ? 'grid meter stale' : 'grid meter fresh again';
      // Logged once per state change, not once per round.
      if (active) log.warn({ failsafeLimitW: config.site.failsafeLimitW }, `failsafe engaged: ${reason}`);
      else log.info(`failsafe released: ${reason}`);
      bus.emit('failsafe', { active, reason, ts: round.ts });
    }
  };

  // The loop needs the state and the state notifies the loop: wire through a closure.
  let loopRef: ControlLoop | undefined;
  const state = new SiteState({
    siteId: config.site.id,
    clock,
    bus,
    gridStaleAfterMs: config.site.gridStaleAfterMs,
    staleAfterMs: config.site.staleAfterMs,
    onChange: (urgent) => loopRef?.notifyChange(urgent),
  });
  const loop = new ControlLoop({
    clock,
    log,
    snapshot: () => state.snapshot(),
    policies: [...corePolicies(config), ...(deps.policies ?? [])],
    dispatcher,
    intervalMs: config.control.intervalMs,
    coalesceMs: config.control.coalesceMs,
    allocate: createTreeAllocator(buildCircuitTree({ fuseA: config.site.fuseA, circuits: config.site.circuits }), {
      phaseSwitchable: new Set(config.control.policies.allocator.phaseSwitching),
      minOnMs: config.control.policies.allocator.minOnMs,
      minOffMs: config.control.policies.allocator.minOffMs,
      rampUpAPerS: config.control.policies.allocator.rampUpAPerS,
      holdMaxMs: config.control.policies.allocator.holdMaxMs,
      assumedOverdrawA: config.control.policies.allocator.assumedOverdrawA,
      reservePct: config.control.policies.allocator.reservePct,
      deadbandA: config.control.deadbandA,
    }),
    onRound,
  });
  loopRef = loop;

  let telemetryTimer: ReturnType<Clock['setInterval']> | undefined;
  let pruneTimer: ReturnType<Clock['setInterval']> | undefined;

  const sampleTelemetry = () => {
    const s = state.snapshot();
    const values: Record<string, number> = {};
    if (s.grid.powerW) values['grid.powerW'] = s.grid.powerW.value;
    if (s.pv.powerW) values['pv.powerW'] = s.pv.powerW.value;
    if (s.battery.powerW) values['battery.powerW'] = s.battery.powerW.value;
    if (s.battery.socPct) values['battery.socPct'] = s.battery.socPct.value;
    let evTotal = 0;
    for (const e of s.evses) {
      if (e.powerW) {
        values[`evse.${e.id}.powerW`] = e.powerW.value;
        evTotal += e.powerW.value;
      }
    }
    values['evses.powerW'] = evTotal;
    // The limits in force beside the flows, so history shows whether the site stayed under them:
    // the site import limit and the chargers' budget (where load management and overrides bind).
    const limits = loop.lastRound()?.limits ?? [];
    values['site.limitW'] = limits.find((l) => l.scope === 'site')?.maxImportW ?? config.site.limitW;
    const evBudget = limits.find((l) => l.scope === 'evses')?.maxImportW;
    if (evBudget !== undefined) values['evses.limitW'] = evBudget;
    telemetry.append(s.ts, values);
  };

  return {
    config,
    clock,
    log,
    bus,
    state,
    dispatcher,
    loop,
    db,
    sessions,
    setpointAudit,
    telemetry,
    metrics,
    env: deps.env ?? {},
    start() {
      state.start();
      loop.start();
      telemetryTimer = clock.setInterval(sampleTelemetry, config.store.telemetryIntervalMs);
      const auditRetentionMs = config.store.setpointAuditRetentionDays * 86_400_000;
      pruneTimer = clock.setInterval(() => {
        telemetry.prune(clock.now()).catch((err: unknown) => log.warn({ err }, 'telemetry prune failed'));
        setpointAudit
          .prune(clock.now() - auditRetentionMs)
          .catch((err: unknown) => log.warn({ err }, 'set-point audit prune failed'));
      }, 10 * 60_000);
    },
    stop() {
      loop.stop();
      dispatcher.stop();
      state.stop();
      clock.clearInterval(telemetryTimer);
      clock.clearInterval(pruneTimer);
      setpointAudit.flush();
      telemetry.flush();
      db.close();
    },
  };
}
