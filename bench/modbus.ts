import { Registry } from 'prom-client';
import { ModbusLink } from '../adapters/modbus/link.js';
import { createModbusMetrics } from '../adapters/modbus/metrics.js';
import { SystemClock } from '../src/model/clock.js';
import { silentLogger } from '../src/util/logger.js';
import { SunSpecMeterSim } from '../sim/devices/modbus/sunspec-devices.js';
import { SitePhysics } from '../sim/site/physics.js';

export interface ModbusBenchResult {
  readonly name: string;
  /** Completed read requests per second over one TCP link (requests are serialised). */
  readonly readsPerSecond: number;
  readonly registersPerSecond: number;
  readonly registersPerRead: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly reads: number;
  readonly errors: number;
  /** Requests the simulator served during the case (cross-check of `reads`). */
  readonly served: number;
}

export interface ModbusBenchOptions {
  /** Measuring time per case, ms. */
  readonly durationMs?: number;
  /** Requests queued at once (the link still sends one at a time). */
  readonly concurrency?: number;
}

/**
 * Modbus polling rate over one TCP link against the SunSpec meter
 * simulator on 127.0.0.1: small reads (2 registers) and whole model-203
 * blocks (107 registers, what a meter poll costs).
 */
export async function benchModbus(opts: ModbusBenchOptions = {}): Promise<ModbusBenchResult[]> {
  const durationMs = opts.durationMs ?? 2000;
  const clock = new SystemClock();
  const physics = new SitePhysics({ clock, baseLoadW: 10_000 });
  const sim = new SunSpecMeterSim({ physics });
  await sim.start();
  const link = new ModbusLink(
    {
      id: 'bench',
      transport: 'tcp',
      host: '127.0.0.1',
      port: sim.port,
      timeoutMs: 1000,
      reconnectMinMs: 1000,
      reconnectMaxMs: 5000,
    },
    { clock, log: silentLogger(), metrics: createModbusMetrics(new Registry()) },
  );
  await link.start();
  const results: ModbusBenchResult[] = [];
  try {
    for (const [name, address, count] of [
      ['2 registers (SunS marker)', 40000, 2],
      ['model 203 block (107 registers)', 40070, 107],
    ] as const) {
      const before = sim.server.requests;
      const r = await measure(link, name, address, count, durationMs, opts.concurrency ?? 4);
      results.push({ ...r, served: sim.server.requests - before });
    }
  } finally {
    await link.stop();
    await sim.stop();
    physics.stop();
  }
  return results;
}

async function measure(
  link: ModbusLink,
  name: string,
  address: number,
  count: number,
  durationMs: number,
  concurrency: number,
): Promise<Omit<ModbusBenchResult, 'served'>> {
  const latencies: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  const end = t0 + durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const s = performance.now();
      try {
        await link.read(1, 'holding', address, count);
        latencies.push(performance.now() - s);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedS = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  const reads = latencies.length;
  return {
    name,
    readsPerSecond: Math.round(reads / elapsedS),
    registersPerSecond: Math.round((reads * count) / elapsedS),
    registersPerRead: count,
    // With `concurrency` requests queued, latency includes queueing behind the others.
    p50Ms: Math.round(pct(0.5) * 100) / 100,
    p99Ms: Math.round(pct(0.99) * 100) / 100,
    reads,
    errors,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchModbus();
  console.table(r);
}
