/**
 * Reaction-bench peer process: a site with a Modbus grid meter and N OCPP
 * 1.6J chargers whose vehicles draw what their last profile allows. The grid
 * meter reads building load + every vehicle's draw. Imports nothing of the
 * gateway. Driven over IPC by bench/reaction.ts.
 */
import { ChargerPeer } from './charger.js';
import { serve } from './ipc.js';
import { MeterPeer } from './meter.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const VOLTS_3P = 690; // 3 phases x 230 V

let baseW = 0;
const chargers: ChargerPeer[] = [];
const meter = new MeterPeer(() => baseW + chargers.reduce((s, c) => s + c.drawA * VOLTS_3P, 0));
const timers: NodeJS.Timeout[] = [];
let lastProfileAt = 0;

interface Armed {
  readonly t0: number;
  readonly before: Map<ChargerPeer, number>;
  readonly got: Map<ChargerPeer, number>;
  readonly expected: number;
  done?: () => void;
}
let armed: Armed | undefined;

function onProfile(c: ChargerPeer, limitA: number, at: number): void {
  lastProfileAt = at;
  const a = armed;
  if (!a || a.got.has(c)) return;
  // Only a cut counts: the shed the step makes necessary.
  if (limitA < (a.before.get(c) ?? Number.POSITIVE_INFINITY) - 0.05) {
    a.got.set(c, at - a.t0);
    if (a.got.size === a.expected) a.done?.();
  }
}

/** "paused/total, min–max A of the others" for the debug lines and notes. */
function summary(limits: number[]): string {
  const on = limits.filter((x) => x > 0.05);
  return `${limits.length - on.length}/${limits.length} paused, others ${Math.min(...on)}–${Math.max(...on)} A`;
}

serve({
  async start(args: { baseW: number }) {
    baseW = args.baseW;
    await meter.start();
    return { port: meter.port };
  },

  async connect(args: { url: string; n: number; meterIntervalMs: number; followMs: number }) {
    for (let i = 0; i < args.n; i += 50) {
      const batch = Array.from({ length: Math.min(50, args.n - i) }, async (_, k) => {
        const c = await ChargerPeer.connect({ url: args.url, id: `CP${i + k}`, followMs: args.followMs, onProfile });
        await c.boot();
        await c.status('Available');
        await c.startSession(`TAG${i + k}`);
        await c.meterValues();
        return c;
      });
      chargers.push(...(await Promise.all(batch)));
    }
    // Periodic meter values (as a charger configured for 10 s sends them), phases spread.
    chargers.forEach((c, i) => {
      const first = setTimeout(
        () => {
          timers.push(setInterval(() => c.open && void c.meterValues().catch(() => {}), args.meterIntervalMs));
        },
        (i / chargers.length) * args.meterIntervalMs,
      );
      timers.push(first);
    });
    return { connected: chargers.length };
  },

  /**
   * Waits until nearly every charger has a profile of at least `minA` (the gateway has left any
   * start-up failsafe and shared the site) and none arrived for `quietMs`, or the timeout.
   */
  async settle(args: { minA: number; share: number; quietMs: number; timeoutMs: number }) {
    const t0 = performance.now();
    const deadline = t0 + args.timeoutMs;
    while (performance.now() < deadline) {
      const up = chargers.filter((c) => (c.limitA ?? 0) >= args.minA).length;
      if (up >= args.share * chargers.length && performance.now() - lastProfileAt > args.quietMs) break;
      await sleep(50);
    }
    const limits = chargers.map((c) => c.limitA ?? 0).sort((a, b) => a - b);
    return {
      minA: limits[0],
      maxA: limits[limits.length - 1],
      medianA: limits[Math.floor(limits.length / 2)],
      state: summary(limits),
      ms: performance.now() - t0,
    };
  },

  /** Load step: every charger's next lower limit is timed from the moment the meter shows it. */
  async step(args: { baseW: number; timeoutMs: number }) {
    const before = new Map(chargers.map((c) => [c, c.limitA ?? Number.POSITIVE_INFINITY] as const));
    // A paused charger (limit 0, held off by the allocator's min-off time) cannot be cut further.
    const expected = chargers.filter((c) => (before.get(c) ?? 0) > 0.05).length;
    baseW = args.baseW;
    const t0 = meter.markStep();
    const a: Armed = { t0, before, got: new Map(), expected };
    armed = a;
    // Baseline in the same moment: a Heartbeat round trip through the gateway from a few chargers,
    // the floor any reaction over these sockets pays.
    const probes = Array.from({ length: Math.min(10, chargers.length) }, () =>
      chargers[Math.floor(Math.random() * chargers.length)]?.call('Heartbeat', {}).then(
        (r) => r.ms,
        () => Number.NaN,
      ),
    );
    await Promise.race([new Promise<void>((r) => (a.done = r)), sleep(args.timeoutMs)]);
    armed = undefined;
    const heartbeats = (await Promise.all(probes)).filter((x): x is number => x !== undefined && !Number.isNaN(x));
    const poll = meter.firstReadAfterStep;
    return {
      deliveries: [...a.got.values()],
      expected,
      heartbeats,
      missing: expected - a.got.size,
      pollMs: poll === undefined ? Number.NaN : poll - t0,
      cutTo: summary(chargers.map((c) => c.limitA ?? 0)),
    };
  },

  /**
   * The step ends; waits until the chargers are back up to `untilA` (slow up), or the profiles
   * have been quiet for `quietMs` (paused chargers stay off for the allocator's min-off time).
   */
  async release(args: { baseW: number; untilA: number; quietMs: number; timeoutMs: number }) {
    baseW = args.baseW;
    const t0 = performance.now();
    const deadline = t0 + args.timeoutMs;
    while (performance.now() < deadline) {
      const quiet = performance.now() - lastProfileAt;
      if (chargers.every((c) => (c.limitA ?? 0) >= args.untilA) && quiet > 300) break;
      if (performance.now() - t0 > 2000 && quiet > args.quietMs) break;
      await sleep(50);
    }
    return {
      recovered: chargers.filter((c) => (c.limitA ?? 0) >= args.untilA).length,
      ms: performance.now() - t0,
      limits: summary(chargers.map((c) => c.limitA ?? 0)),
    };
  },

  async stop() {
    for (const t of timers) clearTimeout(t);
    await Promise.allSettled(chargers.map((c) => c.close()));
    await meter.stop();
    setTimeout(() => process.exit(0), 50);
    return {};
  },
});
