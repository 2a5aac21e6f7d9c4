import { scenario as depot } from '../../../sim/scenario/scenarios/depot.js';
import { scenario as hub } from '../../../sim/scenario/scenarios/hub.js';
import { scenario as stress } from '../../../sim/scenario/scenarios/stress.js';
import type { ScenarioDefinition } from '../../../sim/scenario/types.js';
import { drDay } from '../../../sim/utility/dr-day.js';
import { type ControllerName, type DayHooks, runDay } from './harness.js';
import { type ControllerKpis, summarise } from './result.js';
import { startDrPeers } from './dr-peers.js';

export const SCENARIOS: readonly ScenarioDefinition[] = [depot, hub, stress, drDay];

export interface RunScenarioOptions {
  readonly seed?: number;
  readonly controllers?: readonly ControllerName[];
  readonly responseDelayMs?: number | readonly [number, number];
  readonly onProgress?: (line: string) => void;
  /** Extra definitions (tests), looked up first. */
  readonly definitions?: readonly ScenarioDefinition[];
  readonly hooks?: Omit<DayHooks, 'onProgress' | 'startPeers'>;
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly seed: number;
  readonly simulatedHours: number;
  readonly note?: string;
  readonly vehicles: Awaited<ReturnType<typeof runDay>>['vehicles'];
  readonly controllers: ControllerKpis[];
  readonly wallMs: number;
}

export function findScenario(name: string, extra: readonly ScenarioDefinition[] = []): ScenarioDefinition {
  const all = [...extra, ...SCENARIOS];
  const s = all.find((d) => d.name === name);
  if (!s) throw new Error(`unknown scenario "${name}"; known: ${all.map((d) => d.name).join(', ')}`);
  return s;
}

/** gridkeeper and the fair 30 s baseline on the same simulated day (same seed). */
export async function runScenario(name: string, opts: RunScenarioOptions = {}): Promise<ScenarioResult> {
  const started = performance.now();
  const seed = opts.seed ?? 1;
  const def = findScenario(name, opts.definitions);
  const day = def.build({
    seed,
    ...(opts.responseDelayMs !== undefined ? { responseDelayMs: opts.responseDelayMs } : {}),
  });
  const controllers: ControllerKpis[] = [];
  let vehicles: ScenarioResult['vehicles'] | undefined;
  for (const c of opts.controllers ?? (['gridkeeper', 'baseline-30s'] as const)) {
    const progress = opts.onProgress && ((l: string) => opts.onProgress?.(`[${name}] ${l}`));
    const dr = day.dr;
    const run = await runDay(day, c, seed, {
      ...opts.hooks,
      ...(progress ? { onProgress: progress } : {}),
      ...(dr ? { startPeers: (clock, activity) => startDrPeers(dr, clock, activity) } : {}),
    });
    vehicles = run.vehicles;
    controllers.push(summarise(c, run.kpis, run.wallMs));
  }
  return {
    scenario: name,
    seed,
    simulatedHours: (day.endAt - day.startAt) / 3_600_000,
    ...(day.note ? { note: day.note } : {}),
    vehicles: vehicles ?? { count: 0, responseDelayMs: { min: 0, p50: 0, max: 0 }, overdrawing: 0, stopBelow8A: 0 },
    controllers,
    wallMs: Math.round(performance.now() - started),
  };
}
