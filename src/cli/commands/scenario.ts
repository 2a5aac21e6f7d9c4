import type { Command } from 'commander';
import type { ControllerName } from '../scenario/harness.js';
import { formatScenarioTable } from '../scenario/format.js';
import { runScenarioInWorkers } from '../scenario/parallel.js';
import { SCENARIOS } from '../scenario/run.js';

interface ScenarioCliOptions {
  json?: boolean;
  seed?: string;
  delayMs?: string;
  controllers?: string;
  quiet?: boolean;
}

const CONTROLLERS: readonly ControllerName[] = ['gridkeeper', 'baseline-30s'];

function parseDelay(v: string | undefined): number | [number, number] | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)(?:-(\d+))?$/.exec(v.trim());
  if (!m) throw new Error(`--delay-ms must be <ms> or <min>-<max>, got "${v}"`);
  return m[2] === undefined ? Number(m[1]) : [Number(m[1]), Number(m[2])];
}

/** One progress line, rewritten in place on a terminal; nothing when stderr is a pipe or file. */
function progressLine(): ((line: string) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (line) => process.stderr.write(`\r\x1b[K${line}`);
}

/**
 * `gridkeeper scenario <name> [--json]`: a simulated day on a virtual clock
 * with the site on loopback sockets (Modbus meter, OCPP chargers, vehicles),
 * gridkeeper built as `run` builds it, beside the fair 30 s baseline on the
 * same day (each in its own worker thread). KPIs come from the site simulation. Progress on stderr (TTY).
 */
export function registerScenarioCommand(program: Command): void {
  program
    .command('scenario')
    .description('Run a simulated day (depot, hub, stress, dr-day) and print KPIs per controller')
    .argument('[name]', 'scenario name; omit to list the scenarios')
    .option('--json', 'print the result as JSON')
    .option('--seed <n>', 'random seed of the day', '1')
    .option('--delay-ms <ms|min-max>', "override every vehicle's response delay, ms")
    .option('--controllers <list>', `comma-separated: ${CONTROLLERS.join(',')}`)
    .option('--quiet', 'no progress on stderr')
    .action(async (name: string | undefined, opts: ScenarioCliOptions) => {
      if (!name) {
        for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(10)} ${s.description}\n`);
        return;
      }
      const seed = Number(opts.seed ?? '1');
      if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got "${opts.seed}"`);
      const delay = parseDelay(opts.delayMs);
      const controllers = opts.controllers
        ?.split(',')
        .map((c) => c.trim())
        .filter(Boolean);
      for (const c of controllers ?? []) {
        if (!CONTROLLERS.includes(c as ControllerName)) throw new Error(`unknown controller "${c}"`);
      }
      const progress = opts.quiet ? undefined : progressLine();
      const result = await runScenarioInWorkers(name, {
        seed,
        ...(delay !== undefined ? { responseDelayMs: delay } : {}),
        ...(controllers ? { controllers: controllers as ControllerName[] } : {}),
        ...(progress ? { onProgress: progress } : {}),
      });
      if (progress) process.stderr.write('\r\x1b[K');
      if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else process.stdout.write(`${formatScenarioTable(result)}\n`);
    });
}
