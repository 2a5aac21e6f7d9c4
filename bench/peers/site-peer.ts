/**
 * The closed-loop site in one process: a grid meter on Modbus TCP (Eastron
 * SDM630 map) that reads base load + what the chargers' vehicles really
 * draw, and N factory-default OCPP 1.6J chargers (site-charger.ts). The
 * harness sets the base load; this process records, every 100 ms on the
 * system-wide monotonic clock, the meter's value, the vehicles' draw and
 * the draw the chargers allow, and every profile's arrival. Imports nothing
 * of the gateway. Driven over IPC by bench/closed-loop.ts.
 */
import { monoMs } from './clock.js';
import { serve } from './ipc.js';
import { MeterPeer } from './meter.js';
import { SiteCharger } from './site-charger.js';

const VOLTS_3P = 690;
const MAX_A = 32;

let baseW = 0;
const chargers: SiteCharger[] = [];
const meter = new MeterPeer(() => baseW + evW());
const samples: Array<[number, number, number, number]> = [];
const profiles: Array<[number, number, number]> = [];
let sampler: NodeJS.Timeout | undefined;
let lastProfileAt = 0;

function evW(): number {
  let w = 0;
  for (const c of chargers) w += c.drawA * VOLTS_3P;
  return w;
}

/** Σ of what each charger's profile allows (its maximum before any profile), W. */
function allowedW(): number {
  let w = 0;
  for (const c of chargers) w += Math.min(MAX_A, c.limitA ?? MAX_A) * VOLTS_3P;
  return w;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

serve({
  async start(args: { baseW: number }) {
    baseW = args.baseW;
    await meter.start();
    return { port: meter.port };
  },

  async connect(args: { url: string; n: number; lagMs: number; overdrawEvery: number; overdrawA: number }) {
    const made = await Promise.all(
      Array.from({ length: args.n }, (_, i) =>
        SiteCharger.connect({
          url: args.url,
          id: `CP${i}`,
          lagMs: args.lagMs,
          overdrawA: args.overdrawEvery > 0 && i % args.overdrawEvery === 0 ? args.overdrawA : 0,
          vehicleMaxA: MAX_A,
          onProfile: (c, limitA, at) => {
            lastProfileAt = at;
            profiles.push([at, chargers.indexOf(c), limitA]);
          },
          onDraw: () => {},
        }),
      ),
    );
    chargers.push(...made);
    await Promise.all(chargers.map((c, i) => c.start(`TAG${i}`)));
    sampler = setInterval(() => samples.push([monoMs(), baseW, evW(), allowedW()]), 100);
    return { connected: chargers.length };
  },

  /** Until every charger has a profile and none arrived for `quietMs`, or the timeout. */
  async settle(args: { quietMs: number; timeoutMs: number }) {
    const t0 = monoMs();
    while (monoMs() - t0 < args.timeoutMs) {
      if (chargers.every((c) => c.limitA !== undefined) && monoMs() - lastProfileAt > args.quietMs) break;
      await sleep(100);
    }
    return { ms: monoMs() - t0, allowedW: allowedW(), evW: evW() };
  },

  /** A base-load step; returns its time on the monotonic clock. */
  base(args: { baseW: number }) {
    baseW = args.baseW;
    return { t0: meter.markStep(), now: monoMs() };
  },

  now() {
    return { now: monoMs() };
  },

  /** Samples and profiles since `from` (monotonic ms), and what each charger is configured to measure. */
  record(args: { from: number }) {
    return {
      samples: samples.filter((s) => s[0] >= args.from),
      profiles: profiles.filter((p) => p[0] >= args.from),
      config: chargers.map((c) => ({
        interval: c.setting('MeterValueSampleInterval'),
        sampled: c.setting('MeterValuesSampledData'),
        aligned: c.setting('ClockAlignedDataInterval'),
      })),
    };
  },

  async stop() {
    clearInterval(sampler);
    await Promise.allSettled(chargers.map((c) => c.close()));
    await meter.stop();
    setTimeout(() => process.exit(0), 50);
    return {};
  },
});
