import type { Command } from 'commander';
import { formatScenarioTable, listScenarios, runScenario } from '../../../sim/scenario/runner.js';
import { runDrDay } from '../../../sim/utility/dr-day.js';

const DR_DAY_DESCRIPTION =
  'depot afternoon and evening with prices, an import-limit and a dispatch event and a VTN outage, through the real OpenADR VEN';

/**
 * dr-day runs the real VEN against the VTN simulator over HTTP (on a virtual
 * clock), so it has its own runner; its KPIs are the grid ones.
 */
async function runDrDayCommand(seed: number, opts: ScenarioCliOptions): Promise<void> {
  if (!opts.quiet) process.stderr.write('dr-day: running (VTN over HTTP, virtual clock)...\n');
  const result = await runDrDay({ seed });
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ scenario: result.scenario, controllers: result.controllers }, null, 2)}\n`,
    );
    return;
  }
  const head = [
    'controller',
    'DR compliance %',
    'response p50/p99 s',
    'deadlines missed',
    'cost EUR',
    'V2G kWh',
    'battery kWh',
  ];
  const rows = result.controllers.map((c) => [
    c.name,
    c.drCompliancePct.toFixed(1),
    `${c.responseSeconds.p50}/${c.responseSeconds.p99}`,
    `${c.deadlinesMissed}/${c.deadlinesFeasible}`,
    c.costEur.toFixed(2),
    c.v2gEnergyKwh.toFixed(1),
    c.batteryDischargeKwh.toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  process.stdout.write(`${[line(head), ...rows.map(line)].join('\n')}\n`);
}

interface ScenarioCliOptions {
  json?: boolean;
  seed?: string;
  delayMs?: string;
  controllers?: string;
  quiet?: boolean;
}

function parseDelay(v: string | undefined): number | [number, number] | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)(?:-(\d+))?$/.exec(v.trim());
  if (!m) throw new Error(`--delay-ms must be <ms> or <min>-<max>, got "${v}"`);
  return m[2] === undefined ? Number(m[1]) : [Number(m[1]), Number(m[2])];
}

/**
 * `gridkeeper scenario <name> [--json]`: a whole simulated day on a virtual
 * clock, gridkeeper and the 30 s first-come-first-served baseline on the
 * same day, KPIs per controller. Progress goes to stderr, results to stdout.
 */
export function registerScenarioCommand(program: Command): void {
  program
    .command('scenario')
    .description('Run a simulated day (depot, hub, stress, ...) and print KPIs per controller')
    .argument('[name]', 'scenario name; omit to list the scenarios')
    .option('--json', 'print the result as JSON')
    .option('--seed <n>', 'random seed of the day', '1')
    .option('--delay-ms <ms|min-max>', "override every vehicle's response delay, ms")
    .option('--controllers <list>', 'comma-separated: gridkeeper,baseline-30s-fcfs')
    .option('--quiet', 'no progress on stderr')
    .action(async (name: string | undefined, opts: ScenarioCliOptions) => {
      if (!name) {
        for (const s of await listScenarios()) process.stdout.write(`${s.name.padEnd(10)} ${s.description}\n`);
        process.stdout.write(`${'dr-day'.padEnd(10)} ${DR_DAY_DESCRIPTION}\n`);
        return;
      }
      const seed = Number(opts.seed ?? '1');
      if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got "${opts.seed}"`);
      if (name === 'dr-day') {
        await runDrDayCommand(seed, opts);
        return;
      }
      const delay = parseDelay(opts.delayMs);
      const controllers = opts.controllers
        ?.split(',')
        .map((c) => c.trim())
        .filter(Boolean) as Array<'gridkeeper' | 'baseline-30s-fcfs'> | undefined;
      for (const c of controllers ?? []) {
        if (c !== 'gridkeeper' && c !== 'baseline-30s-fcfs') throw new Error(`unknown controller "${c}"`);
      }
      const result = await runScenario(name, {
        seed,
        ...(delay !== undefined ? { responseDelayMs: delay } : {}),
        ...(controllers ? { controllers } : {}),
        ...(opts.quiet ? {} : { onProgress: (line: string) => process.stderr.write(`${line}\n`) }),
      });
      if (opts.json) {
        const d = result.vehicles.responseDelayMs;
        if (!opts.quiet) {
          process.stderr.write(
            `vehicles: ${result.vehicles.count}, response delay min/p50/max ${d.min}/${d.p50}/${d.max} ms; ${(result.wallMs / 1000).toFixed(1)} s wall\n`,
          );
        }
        process.stdout.write(
          `${JSON.stringify({ scenario: result.scenario, controllers: result.controllers }, null, 2)}\n`,
        );
      } else {
        process.stdout.write(`${formatScenarioTable(result)}\n`);
      }
    });
}
