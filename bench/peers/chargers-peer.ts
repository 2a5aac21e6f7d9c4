/**
 * Reaction-bench chargers process: N OCPP 1.6J chargers whose vehicles draw
 * what their last profile allows; their total draw is sent to the harness,
 * which relays it to the meter's process. Every profile is stamped on the
 * system-wide monotonic clock at arrival. Imports nothing of the gateway.
 * Driven over IPC by bench/reaction.ts.
 */
import { ChargerPeer } from './charger.js';
import { monoMs } from './clock.js';
import { emit, serve } from './ipc.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const VOLTS_3P = 690; // 3 phases x 230 V

const chargers: ChargerPeer[] = [];
const timers: NodeJS.Timeout[] = [];
let lastProfileAt = 0;

/** Coalesced per event-loop turn: one message for a burst of 1000 vehicles following. */
let drawQueued = false;
function onDraw(): void {
  if (drawQueued) return;
  drawQueued = true;
  setImmediate(() => {
    drawQueued = false;
    emit(
      'ev',
      chargers.reduce((s, c) => s + c.drawA * VOLTS_3P, 0),
    );
  });
}

interface Armed {
  readonly before: Map<ChargerPeer, number>;
  /** Arrival times (monotonic ms) of the cuts. */
  readonly got: Map<ChargerPeer, number>;
  readonly expected: number;
  done?: () => void;
}
let armed: Armed | undefined;
let probes: Array<Promise<number> | undefined> = [];

function onProfile(c: ChargerPeer, limitA: number, at: number): void {
  lastProfileAt = monoMs();
  const a = armed;
  if (!a || a.got.has(c)) return;
  // Only a cut counts: the shed the step makes necessary.
  if (limitA < (a.before.get(c) ?? Number.POSITIVE_INFINITY) - 0.05) {
    a.got.set(c, at);
    if (a.got.size === a.expected) a.done?.();
  }
}

/** "paused/total, min–max A of the others" for the debug lines and notes. */
function summary(limits: number[]): string {
  const on = limits.filter((x) => x > 0.05);
  return `${limits.length - on.length}/${limits.length} paused, others ${Math.min(...on)}–${Math.max(...on)} A`;
}

serve({
  async connect(args: { url: string; n: number; meterIntervalMs: number; followMs: number }) {
    for (let i = 0; i < args.n; i += 50) {
      const batch = Array.from({ length: Math.min(50, args.n - i) }, async (_, k) => {
        const c = await ChargerPeer.connect({
          url: args.url,
          id: `CP${i + k}`,
          followMs: args.followMs,
          onProfile,
          onDraw,
        });
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
    const t0 = monoMs();
    const deadline = t0 + args.timeoutMs;
    while (monoMs() < deadline) {
      const up = chargers.filter((c) => (c.limitA ?? 0) >= args.minA).length;
      if (up >= args.share * chargers.length && monoMs() - lastProfileAt > args.quietMs) break;
      await sleep(50);
    }
    const limits = chargers.map((c) => c.limitA ?? 0).sort((a, b) => a - b);
    return {
      minA: limits[0],
      maxA: limits[limits.length - 1],
      medianA: limits[Math.floor(limits.length / 2)],
      state: summary(limits),
      ms: monoMs() - t0,
    };
  },

  /** Before a load step: every charger's next lower limit will be recorded; a few Heartbeats probe the floor. */
  arm() {
    const before = new Map(chargers.map((c) => [c, c.limitA ?? Number.POSITIVE_INFINITY] as const));
    // A paused charger (limit 0, held off by the allocator's min-off time) cannot be cut further.
    const expected = chargers.filter((c) => (before.get(c) ?? 0) > 0.05).length;
    armed = { before, got: new Map(), expected };
    // Baseline in the same moment: a Heartbeat round trip through the gateway from a few chargers,
    // the floor any answer over these sockets pays.
    probes = Array.from({ length: Math.min(10, chargers.length) }, () =>
      chargers[Math.floor(Math.random() * chargers.length)]?.call('Heartbeat', {}).then(
        (r) => r.ms,
        () => Number.NaN,
      ),
    );
    return { expected };
  },

  /** After the step at `t0` (monotonic ms): waits for every expected cut or the timeout. */
  async collect(args: { t0: number; timeoutMs: number }) {
    const a = armed;
    if (!a) throw new Error('not armed');
    if (a.got.size < a.expected) {
      await Promise.race([new Promise<void>((r) => (a.done = r)), sleep(args.timeoutMs - (monoMs() - args.t0))]);
    }
    armed = undefined;
    const heartbeats = (await Promise.all(probes)).filter((x): x is number => x !== undefined && !Number.isNaN(x));
    return {
      deliveries: [...a.got.values()].map((at) => at - args.t0),
      expected: a.expected,
      heartbeats,
      missing: a.expected - a.got.size,
      cutTo: summary(chargers.map((c) => c.limitA ?? 0)),
    };
  },

  /**
   * The step ends; waits until the chargers are back up to `untilA` (slow up), or the profiles
   * have been quiet for `quietMs` (paused chargers stay off for the allocator's min-off time).
   */
  async release(args: { untilA: number; quietMs: number; timeoutMs: number }) {
    const t0 = monoMs();
    const deadline = t0 + args.timeoutMs;
    while (monoMs() < deadline) {
      const quiet = monoMs() - lastProfileAt;
      if (chargers.every((c) => (c.limitA ?? 0) >= args.untilA) && quiet > 300) break;
      if (monoMs() - t0 > 2000 && quiet > args.quietMs) break;
      await sleep(50);
    }
    return {
      recovered: chargers.filter((c) => (c.limitA ?? 0) >= args.untilA).length,
      ms: monoMs() - t0,
      limits: summary(chargers.map((c) => c.limitA ?? 0)),
    };
  },

  /**
   * MeterValues at `ratePerS` (in 10 ms ticks) round-robin over the chargers, `total` of them; message k
   * carries the energy register `base + k` Wh, so whatever the gateway derives from it names k. Returns each
   * message's send time (monotonic ms) and each call's round trip (the floor of any answer over these sockets).
   */
  async meterStream(args: { ratePerS: number; total: number; base: number }) {
    const sentAt: number[] = [];
    const calls: Array<Promise<number>> = [];
    const t0 = monoMs();
    const perTick = Math.max(1, Math.round(args.ratePerS / 100));
    for (let k = 0; k < args.total; ) {
      for (let i = 0; i < perTick && k < args.total; i++, k++) {
        const c = chargers[k % chargers.length] as ChargerPeer;
        c.energyWh = args.base + k;
        sentAt.push(monoMs());
        calls.push(
          c.meterValues().then(
            (r) => r.ms,
            () => Number.NaN,
          ),
        );
      }
      const next = t0 + (k / args.ratePerS) * 1000;
      await sleep(Math.max(0, next - monoMs()));
    }
    const rtts = (await Promise.all(calls)).filter((x) => !Number.isNaN(x));
    return { sentAt, rtts, ms: monoMs() - t0 };
  },

  async stop() {
    for (const t of timers) clearTimeout(t);
    await Promise.allSettled(chargers.map((c) => c.close()));
    setTimeout(() => process.exit(0), 50);
    return {};
  },
});
