import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_ANY_PORTS, startDemo } from '../src/cli/demo.js';
import { silentLogger } from '../src/util/logger.js';
import { type BenchResult, percentile } from './types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The whole simulated depot over real sockets: start → ready, and the
 * reaction from a building-load step to the set-points being confirmed by
 * the chargers, end to end (Modbus poll of the meter at 500 ms included)
 * and from the meter reading that shows the step.
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
    const readyMs = performance.now() - t0;
    // Let vehicles plug in and settle.
    await sleep(8000);

    const bus = demo.gateway.core.bus;
    const endToEnd: number[] = [];
    const fromReading: number[] = [];
    // Shedding is the safety-critical direction; raising is damped on purpose
    // (slow up), so only load increases are timed. The step is removed and the
    // site given time to ramp back between samples.
    const steps = 12;
    for (let i = 0; i < steps; i++) {
      const stepW = 15_000;
      const expectDown = true;
      const before = demo.physics.gridPowerW();
      const stepAt = performance.now();
      let readingAt: number | undefined;
      const offGrid = bus.on('grid', (g) => {
        if (readingAt === undefined && g.powerW && Math.abs(g.powerW.value - before) > 7_000)
          readingAt = performance.now();
      });
      const done = new Promise<void>((resolve) => {
        const off = bus.on('setpoint.changed', (c) => {
          const prev = c.previous?.currentA ?? 0;
          const down = c.setpoint.currentA < prev;
          if (readingAt !== undefined && down === expectDown) {
            off();
            resolve();
          }
        });
      });
      demo.physics.setBaseLoadStep(stepW);
      const timeout = sleep(5000).then(() => 'timeout' as const);
      const result = await Promise.race([done.then(() => 'ok' as const), timeout]);
      offGrid();
      if (result === 'ok') {
        const end = performance.now();
        endToEnd.push(end - stepAt);
        if (readingAt !== undefined) fromReading.push(end - readingAt);
      }
      demo.physics.setBaseLoadStep(0);
      await sleep(4000);
    }
    return [
      {
        name: 'demo start → /healthz 200',
        value: readyMs,
        unit: 'ms',
        notes: 'all simulators + gateway, real sockets',
      },
      {
        name: 'load step → first shed set-point confirmed, p50 (incl. 500 ms meter poll)',
        value: percentile(endToEnd, 50),
        unit: 'ms',
      },
      {
        name: 'load step → first shed set-point confirmed, p99 (incl. 500 ms meter poll)',
        value: percentile(endToEnd, 99),
        unit: 'ms',
        notes: `${endToEnd.length}/${steps} steps answered within 5 s`,
      },
      { name: 'meter reading → shed set-point confirmed, p50', value: percentile(fromReading, 50), unit: 'ms' },
      {
        name: 'meter reading → shed set-point confirmed, p99',
        value: percentile(fromReading, 99),
        unit: 'ms',
        target: 'common EMSs: 1-30 s',
        met: percentile(fromReading, 99) < 1000,
      },
    ];
  } finally {
    await demo.stop();
  }
}
