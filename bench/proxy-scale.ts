/**
 * `npm run bench -- ocpp-5000` (not in the default run: it takes the whole
 * machine for several minutes): the proxy bench at 5000 chargers, to see
 * where the gateway stops. Read the connected counts, errors and latencies
 * in the notes; no target is judged here.
 */
import { run as proxy } from './proxy.js';
import type { BenchResult } from './types.js';

export async function run(): Promise<BenchResult[]> {
  const rows = await proxy({ chargers: 5000, connectRampMs: 25_000, durationMs: 30_000, reconnectMeasured: 0 });
  // The targets are set at 1000 chargers; at 5000 the figures are reported, not judged.
  return rows.map(({ target: _t, met: _m, ...r }) => r);
}
