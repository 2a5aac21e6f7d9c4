/**
 * Reaction-bench meter process: an Eastron SDM630 grid meter on Modbus TCP,
 * alone in its process so that its answers are never delayed by the
 * chargers' traffic. It reads building load (set by the harness) + the
 * vehicles' draw (relayed from the chargers' process). Imports nothing of
 * the gateway.
 */
import { monoMs } from './clock.js';
import { serve } from './ipc.js';
import { MeterPeer } from './meter.js';

let baseW = 0;
let evW = 0;
const meter = new MeterPeer(() => baseW + evW);

serve({
  async start(args: { baseW: number }) {
    baseW = args.baseW;
    await meter.start();
    return { port: meter.port };
  },
  ev(args: { w: number }) {
    evW = args.w;
    return {};
  },
  /** A load step; returns its time on the system-wide monotonic clock. */
  step(args: { baseW: number }) {
    baseW = args.baseW;
    return { t0: meter.markStep() };
  },
  /** The first read of the power register after the last step (NaN: none yet). */
  firstRead() {
    return { at: meter.firstReadAfterStep ?? Number.NaN, now: monoMs() };
  },
  async stop() {
    await meter.stop();
    setTimeout(() => process.exit(0), 50);
    return {};
  },
});
