import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { validateConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/schema.js';
import { VirtualClock } from '../../src/model/clock.js';
import { createBaselineController, createGridkeeperController, type SimController } from './controllers.js';
import { SiteSim } from './site-sim.js';
import type { ControllerKpis, ScenarioDay, ScenarioDefinition, ScenarioResult } from './types.js';

export interface RunScenarioOptions {
  readonly seed?: number;
  /** Controllers to run (default both). */
  readonly controllers?: ReadonlyArray<'gridkeeper' | 'baseline-30s-fcfs'>;
  /** Override every vehicle's response delay: one value or a [min, max] range, ms. */
  readonly responseDelayMs?: number | readonly [number, number];
  /** Progress lines (the CLI writes them to stderr). */
  readonly onProgress?: (line: string) => void;
  /** Extra scenario definitions (tests); looked up before the ones on disk. */
  readonly definitions?: readonly ScenarioDefinition[];
}

const SCENARIO_DIR = new URL('./scenarios/', import.meta.url);

/**
 * Every file in `sim/scenario/scenarios/` that exports `scenario` is a
 * scenario; adding a day (e.g. `dr-day`) is adding one file.
 */
export async function listScenarios(): Promise<ScenarioDefinition[]> {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const files = readdirSync(fileURLToPath(SCENARIO_DIR))
    .filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
    .sort();
  const out: ScenarioDefinition[] = [];
  for (const f of files) {
    const mod = (await import(new URL(f, SCENARIO_DIR).href)) as { scenario?: ScenarioDefinition };
    if (mod.scenario) out.push(mod.scenario);
  }
  return out;
}

export async function findScenario(
  name: string,
  extra: readonly ScenarioDefinition[] = [],
): Promise<ScenarioDefinition> {
  const all = [...extra, ...(await listScenarios())];
  const s = all.find((d) => d.name === name);
  if (!s) throw new Error(`unknown scenario "${name}"; known: ${all.map((d) => d.name).join(', ')}`);
  return s;
}

function siteConfig(day: ScenarioDay): GatewayConfig {
  const r = validateConfig(day.config, {});
  if (!r.ok) throw new Error(`scenario config invalid: ${JSON.stringify(r.errors)}`);
  return r.config;
}

/** Run one controller through one day; the day, the weather and the vehicles are the same for every controller. */
async function runDay(
  day: ScenarioDay,
  controllerName: string,
  seed: number,
  onProgress?: (line: string) => void,
): Promise<ControllerKpis> {
  const config = siteConfig(day);
  const clock = new VirtualClock(day.startAt);
  const controller: SimController =
    controllerName === 'gridkeeper'
      ? createGridkeeperController(day, config, clock)
      : createBaselineController(day, config, clock);
  const sim = new SiteSim(day, config, clock, controller.observer, seed);
  controller.attach(sim);
  controller.start();
  const hours = (day.endAt - day.startAt) / 3_600_000;
  try {
    sim.step(day.startAt);
    for (let t = day.startAt + 1000; t < day.endAt; t += 1000) {
      // Controller timers due up to now (rounds triggered by the last readings), then writes complete.
      clock.runUntil(t);
      await controller.settle();
      sim.step(t);
      if ((t - day.startAt) % 3_600_000 === 0) {
        onProgress?.(`${controllerName}: ${Math.round((t - day.startAt) / 3_600_000)}/${hours} h simulated`);
      }
    }
  } finally {
    controller.stop();
  }
  const k = sim.kpis;
  for (const m of k.misses) onProgress?.(`${controllerName}: missed ${m}`);
  if (k.exceeded.size > 0) {
    onProgress?.(`${controllerName}: limits exceeded (s): ${[...k.exceeded].map(([n, s]) => `${n} ${s}`).join(', ')}`);
  }
  return {
    name: controllerName,
    violationSeconds: k.violationSeconds,
    peakImportKw: round(k.peakImportW / 1000, 1),
    deadlinesTotal: k.deadlinesTotal,
    deadlinesFeasible: k.deadlinesFeasible,
    deadlinesMissed: k.deadlinesMissed,
    energyShortfallKwh: round(k.shortfallWh / 1000, 1),
    solarSelfConsumptionPct: k.pvWh > 0 ? round((100 * Math.max(0, k.pvWh - k.exportWh)) / k.pvWh, 1) : 0,
    costEur: round(k.costEur, 2),
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Run a scenario day with gridkeeper and the 30 s first-come-first-served baseline; deterministic for a seed. */
export async function runScenario(name: string, opts: RunScenarioOptions = {}): Promise<ScenarioResult> {
  const started = performance.now();
  const seed = opts.seed ?? 1;
  const def = await findScenario(name, opts.definitions);
  const day = def.build({
    seed,
    ...(opts.responseDelayMs !== undefined ? { responseDelayMs: opts.responseDelayMs } : {}),
  });
  const controllers: ControllerKpis[] = [];
  for (const c of opts.controllers ?? (['gridkeeper', 'baseline-30s-fcfs'] as const)) {
    opts.onProgress?.(
      `[${name}] ${c}: simulating ${(day.endAt - day.startAt) / 3_600_000} h, ${day.vehicles.length} vehicles`,
    );
    controllers.push(await runDay(day, c, seed, opts.onProgress && ((l) => opts.onProgress?.(`[${name}] ${l}`))));
  }
  const delays = day.vehicles.map((v) => v.responseDelayMs).sort((a, b) => a - b);
  return {
    scenario: name,
    controllers,
    vehicles: {
      count: day.vehicles.length,
      responseDelayMs: {
        min: delays[0] ?? 0,
        p50: delays[Math.floor(delays.length / 2)] ?? 0,
        max: delays[delays.length - 1] ?? 0,
      },
      overdrawing: day.vehicles.filter((v) => v.overdrawA > 0).length,
    },
    seed,
    simulatedHours: (day.endAt - day.startAt) / 3_600_000,
    wallMs: Math.round(performance.now() - started),
  };
}

/** Human-readable table of a result. */
export function formatScenarioTable(r: ScenarioResult): string {
  const cols: Array<[string, (c: ControllerKpis) => string]> = [
    ['controller', (c) => c.name],
    ['violation s', (c) => String(c.violationSeconds)],
    ['peak kW', (c) => c.peakImportKw.toFixed(1)],
    ['deadlines', (c) => `${c.deadlinesTotal}`],
    ['feasible', (c) => `${c.deadlinesFeasible}`],
    ['missed', (c) => `${c.deadlinesMissed}`],
    ['short kWh', (c) => c.energyShortfallKwh.toFixed(1)],
    ['solar self %', (c) => c.solarSelfConsumptionPct.toFixed(1)],
    ['cost EUR', (c) => c.costEur.toFixed(2)],
  ];
  const rows = [cols.map(([h]) => h), ...r.controllers.map((c) => cols.map(([, f]) => f(c)))];
  const widths = cols.map((_, i) => Math.max(...rows.map((row) => (row[i] as string).length)));
  const line = (row: string[]) =>
    row.map((v, i) => (i === 0 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join('  ');
  const d = r.vehicles.responseDelayMs;
  return [
    `scenario ${r.scenario} (seed ${r.seed}, ${r.simulatedHours} h simulated in ${(r.wallMs / 1000).toFixed(1)} s)`,
    `vehicles: ${r.vehicles.count}, response delay ${d.min}/${d.p50}/${d.max} ms (min/p50/max), ${r.vehicles.overdrawing} draw above their set-point`,
    '',
    line(rows[0] as string[]),
    ...rows.slice(1).map((row) => line(row)),
  ].join('\n');
}
