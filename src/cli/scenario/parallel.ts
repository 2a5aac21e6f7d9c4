import { Worker } from 'node:worker_threads';
import type { DayWorkerInput } from './day-worker.js';
import type { ControllerName } from './harness.js';
import { findScenario, type RunScenarioOptions, runScenario, type ScenarioResult } from './run.js';

type Message = { progress: string } | { result: ScenarioResult };

/** A worker on day-worker; under tsx (a .ts source) the worker registers tsx itself, as workers get no loader. */
function startWorker(input: DayWorkerInput): Worker {
  const url = new URL(`./day-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData: input });
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, workerData: input });
}

function runInWorker(input: DayWorkerInput, onProgress?: (line: string) => void): Promise<ScenarioResult> {
  return new Promise((resolve, reject) => {
    const worker = startWorker(input);
    let done = false;
    worker.on('message', (m: Message) => {
      if ('progress' in m) onProgress?.(m.progress);
      else {
        // The day has stopped its site and controller; a handle left behind must not hold the run.
        done = true;
        resolve(m.result);
        void worker.terminate();
      }
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (!done)
        reject(new Error(`scenario ${input.name} (${input.controller}): worker exited (${code}) without a result`));
    });
  });
}

/**
 * gridkeeper and the baseline on the same simulated day, each in its own
 * worker thread: the two days share nothing (own site, clock, sockets), so
 * on two cores the baseline's day costs no wall time beside gridkeeper's.
 * The KPIs are the same as from `runScenario`, which each worker calls.
 */
export async function runScenarioInWorkers(name: string, opts: RunScenarioOptions = {}): Promise<ScenarioResult> {
  if (opts.definitions || opts.hooks) return runScenario(name, opts);
  findScenario(name); // an unknown name fails here, with the list, not in a worker
  const started = performance.now();
  const controllers = opts.controllers ?? (['gridkeeper', 'baseline-30s'] as const);
  const lines = new Map<ControllerName, string>(controllers.map((c) => [c, `${c}: starting`]));
  const report = (c: ControllerName, line: string) => {
    // Each worker's line reads "[name] controller: ..."; one line shows them side by side.
    lines.set(c, line.replace(/^\[[^\]]*\]\s*/, ''));
    opts.onProgress?.(`[${name}] ${[...lines.values()].join(' | ')}`);
  };
  const runs = await Promise.all(
    controllers.map((controller) =>
      runInWorker(
        {
          name,
          seed: opts.seed ?? 1,
          controller,
          ...(opts.responseDelayMs !== undefined ? { responseDelayMs: opts.responseDelayMs } : {}),
        },
        opts.onProgress && ((l) => report(controller, l)),
      ).then((r) => {
        if (opts.onProgress) report(controller, `${controller}: done`);
        return r;
      }),
    ),
  );
  const first = runs[0];
  if (!first) throw new Error('no controller to run');
  return {
    ...first,
    controllers: runs.flatMap((r) => r.controllers),
    wallMs: Math.round(performance.now() - started),
  };
}
