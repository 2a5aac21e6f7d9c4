/**
 * Reaction, end to end: a load step on a Modbus TCP grid meter in a peer
 * process → the gateway (`gridkeeper run` in its own process) polls it,
 * decides and dispatches → each charger (OCPP 1.6J, same peer process)
 * receives its lower SetChargingProfile over its socket. Step and receipt
 * are timed on the peer's one clock. The meter poll interval is part of the
 * figure; the "after the poll" rows subtract the time until the gateway's
 * first read of the stepped register.
 */
import { startGateway } from './gateway.js';
import { BASE_W, MARGIN_W, meteredSite, type StepResult, VOLTS_3P } from './metered-site.js';
import { forkPeer } from './peers/ipc.js';
import { type BenchResult, percentile } from './types.js';

export interface ReactionOptions {
  readonly sizes?: ReadonlyArray<{ readonly chargers: number; readonly steps: number }>;
  /** Grid meter poll interval configured in the gateway, ms. */
  readonly pollMs?: number;
}

function siteConfig(n: number, meterPort: number, pollMs: number): Record<string, unknown> {
  // At BASE_W every vehicle gets ~16 A; the step needs ~6 A off each.
  return meteredSite({
    id: `reaction-${n}`,
    chargers: n,
    meterPort,
    pollMs,
    limitW: BASE_W + n * 16 * VOLTS_3P + MARGIN_W,
  });
}

async function measure(n: number, steps: number, pollMs: number) {
  // Meter and chargers in separate processes: the meter's answers never wait behind 1000 chargers.
  const meter = forkPeer('./meter-peer.ts');
  const fleet = forkPeer('./chargers-peer.ts');
  // The vehicles' draw reaches the meter through the harness (the site's physics, not the figure).
  fleet.on('ev', (w) => void meter.request('ev', { w }).catch(() => {}));
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined;
  try {
    const { port } = await meter.request<{ port: number }>('start', { baseW: BASE_W });
    gw = await startGateway(siteConfig(n, port, pollMs), `reaction-${n}`);
    await fleet.request('connect', { url: gw.ocppUrl, n, meterIntervalMs: 10_000, followMs: 100 });
    const settled = await fleet.request<{ minA: number; maxA: number; medianA: number; state: string; ms: number }>(
      'settle',
      { minA: 12, share: 0.95, quietMs: 1500, timeoutMs: 90_000 },
    );
    if (process.env.GK_BENCH_DEBUG) process.stderr.write(`settled in ${settled.ms.toFixed(0)} ms: ${settled.state}\n`);
    const all: number[] = [];
    const afterPoll: number[] = [];
    const lastPerStep: number[] = [];
    const polls: number[] = [];
    let missing = 0;
    let unread = 0;
    let expected = 0;
    const cuts: string[] = [];
    const heartbeats: number[] = [];
    for (let s = 0; s < steps; s++) {
      await fleet.request('arm');
      const { t0 } = await meter.request<{ t0: number }>('step', { baseW: BASE_W + n * 6 * VOLTS_3P });
      const r = await fleet.request<StepResult>('collect', { t0, timeoutMs: 5000 });
      // `at` is null when the gateway never read the stepped register (NaN does not survive JSON):
      // then no delivery of this step can be measured from the read, and each counts as a miss.
      const { at } = await meter.request<{ at: number | null }>('firstRead');
      all.push(...r.deliveries);
      if (typeof at === 'number' && Number.isFinite(at)) {
        const pollDelay = at - t0;
        afterPoll.push(...r.deliveries.map((d) => d - pollDelay));
        polls.push(pollDelay);
      } else {
        unread++;
        afterPoll.push(...r.deliveries.map(() => Number.POSITIVE_INFINITY));
      }
      missing += r.missing;
      expected += r.expected;
      cuts.push(r.cutTo);
      heartbeats.push(...r.heartbeats);
      if (r.missing === 0) lastPerStep.push(Math.max(...r.deliveries));
      await meter.request('step', { baseW: BASE_W });
      const rel = await fleet.request<{ recovered: number; ms: number; limits: string }>('release', {
        untilA: settled.medianA - 1,
        quietMs: 1500,
        timeoutMs: 15_000,
      });
      if (process.env.GK_BENCH_DEBUG)
        process.stderr.write(
          `step ${s}: ${r.deliveries.length} cut, ${r.missing} missing, poll ${typeof at === 'number' ? (at - t0).toFixed(1) : 'not read'} ms; released ${rel.recovered} in ${rel.ms.toFixed(0)} ms (${rel.limits}); cut to ${r.cutTo}\n`,
        );
    }
    return { all, afterPoll, lastPerStep, polls, missing, unread, expected, settled, cuts, heartbeats };
  } finally {
    await gw?.stop();
    for (const p of [fleet, meter]) {
      await p.request('stop').catch(() => {});
      await p.stop();
    }
  }
}

export async function run(opts: ReactionOptions = {}): Promise<BenchResult[]> {
  const pollMs = opts.pollMs ?? 100;
  const sizes = opts.sizes ?? [
    { chargers: 20, steps: 20 },
    { chargers: 200, steps: 12 },
    { chargers: 1000, steps: 6 },
  ];
  const out: BenchResult[] = [];
  for (const { chargers: n, steps } of sizes) {
    const m = await measure(n, steps, pollMs);
    const note = `${m.all.length}/${m.expected} cuts received (${m.missing} missing after 5 s), ${steps} steps; meter poll ${pollMs} ms (step → first read p50 ${percentile(m.polls, 50).toFixed(1)} ms, max ${Math.max(...m.polls).toFixed(1)} ms)`;
    // A missing cut is a reaction slower than the 5 s window: it counts as infinitely slow.
    const withMissing = [...m.all, ...Array<number>(m.missing).fill(Number.POSITIVE_INFINITY)];
    const afterPoll = [...m.afterPoll, ...Array<number>(m.missing).fill(Number.POSITIVE_INFINITY)];
    const judged = n === 200;
    out.push({
      name: `reaction e2e, register step → SetChargingProfile at charger, ${n} chargers, p50 (incl. ${pollMs} ms poll)`,
      value: percentile(withMissing, 50),
      unit: 'ms',
    });
    out.push({
      name: `reaction e2e, register step → SetChargingProfile at charger, ${n} chargers, p99 (incl. ${pollMs} ms poll)`,
      value: percentile(withMissing, 99),
      unit: 'ms',
      notes: note,
    });
    out.push({
      name: `reaction e2e, meter read → SetChargingProfile at charger, ${n} chargers, p50 (poll excluded)`,
      value: percentile(afterPoll, 50),
      unit: 'ms',
      baseline: percentile(m.heartbeats, 50),
    });
    out.push({
      name: `reaction e2e, meter read → SetChargingProfile at charger, ${n} chargers, p99 (poll excluded)`,
      value: percentile(afterPoll, 99),
      unit: 'ms',
      ...(judged
        ? { target: 'p99 <= 100 ms at 200 chargers (poll excluded)', met: percentile(afterPoll, 99) <= 100 }
        : {}),
      baseline: percentile(m.heartbeats, 99),
      notes: `poll excluded = receipt − gateway's first read of the stepped power register (${m.unread} steps without such a read count as misses); baseline: a charger's Heartbeat round trip through the gateway sent at the step (${m.heartbeats.length} probes), the floor of any answer over these sockets at that moment`,
    });
    out.push({
      name: `reaction e2e, register step → last charger cut, ${n} chargers, worst complete step`,
      value: Math.max(...m.lastPerStep),
      unit: 'ms',
      notes: `${m.lastPerStep.length}/${steps} steps had every expected cut within 5 s; before the first step: ${m.settled.state}; after a step: ${m.cuts[0]} (first), ${m.cuts[m.cuts.length - 1]} (last); paused chargers cannot be cut and are not expected`,
    });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const r = await run(quick ? { sizes: [{ chargers: 20, steps: 5 }] } : {});
  for (const x of r) process.stdout.write(`${x.name}: ${x.value.toFixed(2)} ${x.unit} ${x.notes ?? ''}\n`);
  process.exit(0);
}
