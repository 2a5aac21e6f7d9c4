import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BaselineController } from '../../../sim/baseline/controller.js';
import { Activity } from '../../../sim/scenario/activity.js';
import { sendFleetPlan } from '../../../sim/scenario/fleet-tool.js';
import type { SiteKpis } from '../../../sim/scenario/kpis.js';
import { GRID_METER_UNIT, PV_METER_UNIT, SimSite } from '../../../sim/scenario/site.js';
import type { ScenarioDay } from '../../../sim/scenario/types.js';
import { formatErrors, loadConfigFile } from '../../config/load.js';
import { createLogger } from '../../util/logger.js';
import { createGateway, type Gateway } from '../compose.js';
import { SteppingClock } from './clock.js';
import { siteConfigYaml } from './config.js';
import { advanceTo, settle } from './settle.js';

export type ControllerName = 'gridkeeper' | 'baseline-30s';

/** A controller under test on the simulated site: started against the site's meters, stopped at the end. */
interface UnderTest {
  readonly csUrl: string;
  afterChargersBooted(): Promise<void>;
  stop(): Promise<void>;
}

/** Peers of gridkeeper beyond the site (the utility's VTN for dr-day), on the day's clock. */
export interface Peers {
  /** Config sections that point gridkeeper at them. */
  readonly gatewayConfig: Readonly<Record<string, unknown>>;
  stop(): Promise<void>;
}

export interface DayHooks {
  /** Start peers for gridkeeper (not for the baseline, which gets the utility's limit directly). */
  readonly startPeers?: (clock: SteppingClock, activity: Activity) => Promise<Peers>;
  readonly onProgress?: (line: string) => void;
  /** Called every simulated second after the site's tick (tests poke the site here). */
  readonly onSecond?: (now: number, site: SimSite, controller: ControllerName) => void;
  readonly logLevel?: string;
}

export interface DayRun {
  readonly kpis: SiteKpis;
  readonly vehicles: ReturnType<SimSite['vehicleSummary']>;
  readonly wallMs: number;
}

const API_KEY_ENV = 'GRIDKEEPER_SCENARIO_FLEET_KEY';

async function startGridkeeper(
  day: ScenarioDay,
  site: SimSite,
  clock: SteppingClock,
  activity: Activity,
  hooks: DayHooks,
): Promise<UnderTest> {
  const peers = await hooks.startPeers?.(clock, activity);
  const dir = mkdtempSync(join(tmpdir(), 'gridkeeper-scenario-'));
  const key = randomBytes(24).toString('hex');
  const file = join(dir, 'site.yaml');
  writeFileSync(
    file,
    siteConfigYaml(day, {
      meterPort: site.meter.port,
      gridUnit: GRID_METER_UNIT,
      ...(day.pvPeakW > 0 ? { pvUnit: PV_METER_UNIT } : {}),
      storePath: join(dir, 'gridkeeper.db'),
      apiKeyEnv: API_KEY_ENV,
      ...(peers ? { extra: peers.gatewayConfig } : {}),
    }),
  );
  const env = { ...process.env, [API_KEY_ENV]: key };
  const loaded = loadConfigFile(file, env);
  if (!loaded.ok) throw new Error(`scenario site config invalid:\n${formatErrors(loaded.errors)}`);
  const log = createLogger({ level: hooks.logLevel ?? 'error', destination: process.stderr });
  const gateway: Gateway = createGateway(loaded.config, { clock, log, env });
  await gateway.start();
  const csUrl = gateway.urls().ocpp;
  const apiUrl = gateway.api()?.url();
  if (!csUrl || !apiUrl)
    throw new Error(`gateway did not report its OCPP and API urls: ${JSON.stringify(gateway.urls())}`);
  return {
    csUrl,
    async afterChargersBooted() {
      const plan = sendFleetPlan(apiUrl, key, day.vehicles, activity);
      // The HTTP exchange needs the event loop, not virtual time.
      for (let done = false; !done; ) {
        await Promise.race([plan.then(() => (done = true)), settle(activity, 20)]);
      }
      await plan;
    },
    async stop() {
      await gateway.stop();
      await peers?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startBaseline(
  day: ScenarioDay,
  site: SimSite,
  clock: SteppingClock,
  activity: Activity,
): Promise<UnderTest> {
  const dr = day.dr ?? [];
  const baseline = new BaselineController({
    site: day.site,
    clock,
    meterPort: site.meter.port,
    meterUnit: GRID_METER_UNIT,
    plan: day.vehicles.flatMap((v) =>
      v.neededWh !== undefined ? [{ idTag: v.idTag, departAt: v.departAt, neededWh: v.neededWh }] : [],
    ),
    importLimitW: (now) => dr.find((d) => d.start <= now && now < d.end)?.importLimitW,
    onActivity: () => activity.bump(),
  });
  await baseline.start();
  return { csUrl: baseline.url, afterChargersBooted: async () => {}, stop: () => baseline.stop() };
}

async function whileTimeMoves(clock: SteppingClock, activity: Activity, work: Promise<void>): Promise<void> {
  let done = false;
  void work.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; !done && i < 600; i++) {
    await settle(activity);
    if (!done) clock.advance(100);
  }
  await work;
}

/**
 * One controller through one simulated day: the site (meters, chargers,
 * vehicles) on loopback sockets, the controller under test built the way
 * its users run it, a virtual clock stepped one second at a time with the
 * wire settled at every due timer. The KPIs are the site's.
 */
export async function runDay(
  day: ScenarioDay,
  controller: ControllerName,
  seed: number,
  hooks: DayHooks = {},
): Promise<DayRun> {
  const started = performance.now();
  const clock = new SteppingClock(day.startAt);
  const activity = new Activity();
  const site = new SimSite({ day, clock, seed, activity });
  await site.start();
  let underTest: UnderTest | undefined;
  try {
    underTest =
      controller === 'gridkeeper'
        ? await startGridkeeper(day, site, clock, activity, hooks)
        : await startBaseline(day, site, clock, activity);
    await site.connectChargers(underTest.csUrl);
    await settle(activity, 20);
    await underTest.afterChargersBooted();
    const hours = (day.endAt - day.startAt) / 3_600_000;
    let lastReport = performance.now();
    for (let t = day.startAt + 1000; t <= day.endAt; t += 1000) {
      await advanceTo(clock, t, activity);
      site.tick(t);
      hooks.onSecond?.(t, site, controller);
      if (hooks.onProgress && performance.now() - lastReport > 1000) {
        lastReport = performance.now();
        const h = (t - day.startAt) / 3_600_000;
        hooks.onProgress(`${controller}: ${h.toFixed(1)}/${hours} h simulated`);
      }
    }
  } finally {
    // Stopping may wait on virtual timers (a meter answer still in flight): keep time moving.
    await whileTimeMoves(
      clock,
      activity,
      (async () => {
        await underTest?.stop();
        await site.stop();
      })(),
    );
  }
  return { kpis: site.ledger.k, vehicles: site.vehicleSummary(), wallMs: Math.round(performance.now() - started) };
}
