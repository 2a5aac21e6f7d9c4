import { parentPort, workerData } from 'node:worker_threads';
import type { ControllerName } from './harness.js';
import { runScenario } from './run.js';

/** What the parent asks of one worker: one controller through one scenario day. */
export interface DayWorkerInput {
  readonly name: string;
  readonly seed: number;
  readonly controller: ControllerName;
  readonly responseDelayMs?: number | readonly [number, number];
}

/**
 * Worker-thread entry (see parallel.ts): runs one controller's day with its
 * own site, clock and sockets, posting progress lines and then the result.
 */
async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('day-worker.ts runs as a worker thread');
  const input = workerData as DayWorkerInput;
  const result = await runScenario(input.name, {
    seed: input.seed,
    controllers: [input.controller],
    ...(input.responseDelayMs !== undefined ? { responseDelayMs: input.responseDelayMs } : {}),
    onProgress: (line) => port.postMessage({ progress: line }),
  });
  port.postMessage({ result });
}

await main();
