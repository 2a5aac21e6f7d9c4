import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_ANY_PORTS, startDemo } from '../src/cli/demo.js';
import { silentLogger } from '../src/util/logger.js';
import type { BenchResult } from './types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls the demo's state: battery power reversals, grid import above the active limit. */
async function watch(api: string, ms: number) {
  const t0 = performance.now();
  const pts: Array<{ t: number; bat: number | null; grid: number | null; limit: number }> = [];
  while (performance.now() - t0 < ms) {
    const r = await fetch(`${api}/api/v1/state`).catch(() => undefined);
    if (r?.ok) {
      const s = (await r.json()) as {
        grid: { powerW: number | null };
        battery: { powerW: number | null };
        site: { limitW: number };
      };
      pts.push({ t: performance.now(), bat: s.battery.powerW, grid: s.grid.powerW, limit: s.site.limitW });
    }
    await sleep(200);
  }
  let reversals = 0;
  let dir = 0;
  let anchor: number | undefined;
  for (const p of pts) {
    if (p.bat === null) continue;
    if (anchor === undefined) anchor = p.bat;
    const d = p.bat - anchor;
    if (Math.abs(d) < 1000) continue;
    const nd = Math.sign(d);
    if (dir !== 0 && nd !== dir) reversals++;
    dir = nd;
    anchor = p.bat;
  }
  let overS = 0;
  let longestOverS = 0;
  let run = 0;
  let worstOverW = 0;
  for (let i = 1; i < pts.length; i++) {
    const p = pts[i] as (typeof pts)[number];
    const dt = (p.t - (pts[i - 1] as (typeof pts)[number]).t) / 1000;
    if (p.grid !== null && p.grid > p.limit) {
      overS += dt;
      run += dt;
      worstOverW = Math.max(worstOverW, p.grid - p.limit);
      longestOverS = Math.max(longestOverS, run);
    } else run = 0;
  }
  const bats = pts.map((p) => p.bat).filter((b): b is number => b !== null);
  const elapsed = performance.now() - t0;
  return {
    samples: pts.length,
    ms: elapsed,
    reversalsPerMin: reversals / (elapsed / 60_000),
    overS,
    longestOverS,
    worstOverW,
    battery:
      bats.length > 0
        ? `${(Math.min(...bats) / 1000).toFixed(1)}…${(Math.max(...bats) / 1000).toFixed(1)} kW`
        : 'not reported',
  };
}

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
    const started = performance.now() - t0;
    const steady = await watch(`${api}`, Number(process.env.GK_DEMO_WATCH_MS ?? 60_000));
    return [
      {
        name: 'demo start → /healthz 200',
        value: started,
        unit: 'ms',
        notes: 'all simulators + gateway, real sockets',
      },
      {
        name: 'demo, battery power reversals per minute',
        value: steady.reversalsPerMin,
        unit: '/min',
        target: '<= 2 per minute',
        met: steady.reversalsPerMin <= 2,
        notes: `${steady.samples} samples of /api/v1/state over ${(steady.ms / 1000).toFixed(0)} s; a reversal is a change of direction by more than 1 kW; battery ${steady.battery}`,
      },
      {
        name: 'demo, longest grid import above the active limit',
        value: steady.longestOverS,
        unit: 's',
        target: '<= 2 s',
        met: steady.longestOverS <= 2,
        notes: `above the limit ${steady.overS.toFixed(1)} s in total, worst ${(steady.worstOverW / 1000).toFixed(1)} kW over (limit as the API shows it active)`,
      },
    ];
  } finally {
    await demo.stop();
  }
}
