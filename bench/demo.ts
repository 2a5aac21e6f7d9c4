import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_ANY_PORTS, startDemo } from '../src/cli/demo.js';
import { silentLogger } from '../src/util/logger.js';
import type { BenchResult } from './types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The whole simulated depot over real sockets: start → ready. (The demo's
 * in-process reaction figure is gone: the reaction is measured end to end,
 * across processes, by bench/reaction.ts.)
 */
export async function run(): Promise<BenchResult[]> {
  const t0 = performance.now();
  const demo = await startDemo(
    { ...DEMO_ANY_PORTS, dataDir: mkdtempSync(join(tmpdir(), 'gk-bench-demo-')), chargers: 4 },
    { env: {}, log: silentLogger() },
  );
  try {
    const api = demo.gateway.api()?.url();
    for (;;) {
      const r = await fetch(`${api}/healthz`).catch(() => undefined);
      if (r?.status === 200) break;
      await sleep(5);
    }
    return [
      {
        name: 'demo start → /healthz 200',
        value: performance.now() - t0,
        unit: 'ms',
        notes: 'all simulators + gateway, real sockets',
      },
    ];
  } finally {
    await demo.stop();
  }
}
