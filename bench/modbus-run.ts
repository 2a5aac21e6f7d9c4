import { benchModbus } from './modbus.js';
import type { BenchResult } from './types.js';

/** Modbus polling rate over one TCP link against the SunSpec simulator. */
export async function run(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  for (const r of await benchModbus({ durationMs: 3000 })) {
    out.push({
      name: `${r.name}: reads/s over one TCP link`,
      value: r.readsPerSecond,
      unit: 'reads/s',
      notes: `${r.registersPerRead} registers/read, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ${r.errors} errors`,
    });
  }
  return out;
}
