/**
 * Grid signal → set-points at the chargers, end to end: the gateway under
 * test is `gridkeeper run` in its own process (bench/gateway.ts) with its
 * chargers connected as OCPP 1.6J peers (bench/peers/chargers-peer.ts, own
 * process) and an Eastron grid meter on Modbus TCP (bench/peers/meter-peer.ts,
 * own process) that reads the vehicles' draw. Two kinds of signal cut the
 * site's import limit so every charging vehicle must drop about 6 A:
 *  - simple: `POST /api/v1/grid/limit` over HTTP with an API key (the
 *    GRIDKEEPER_ADMIN_KEY the gateway was started with);
 *  - OpenADR 3: an event update on the VTN simulator (sim/utility/vtn.ts, in
 *    this process) → subscription callback to the gateway's API server → the
 *    VEN polls the VTN → the signal store.
 * The figure is the time from the signal (the POST sent, the VTN event
 * changed) until each charger has received its lower SetChargingProfile over
 * its socket, on the system-wide monotonic clock. Between signals the limit
 * is lifted again and the chargers recover. Baseline in the same run: a
 * charger's Heartbeat round trip through the gateway sent at the signal.
 */
import { randomBytes } from 'node:crypto';
import { createVtnSim } from '../sim/utility/vtn.js';
import { type GatewayUnderTest, startGateway } from './gateway.js';
import { BASE_W, MARGIN_W, meteredSite, type StepResult, VOLTS_3P } from './metered-site.js';
import { monoMs } from './peers/clock.js';
import { forkPeer, type Peer } from './peers/ipc.js';
import { type BenchResult, percentile } from './types.js';
import { vtnWallClock } from './vtn-clock.js';

export interface GridBenchOptions {
  readonly chargers?: number;
  /** Signals per kind. */
  readonly trials?: number;
}

const PROGRAM = 'bench';

interface Kind {
  deliveries: number[];
  lastPerSignal: number[];
  heartbeats: number[];
  missing: number;
  expected: number;
  /** Round trip of the signal itself (the POST's answer; for OpenADR not measured). */
  answers: number[];
}

/** At the site limit every vehicle gets ~16 A; LOW_W leaves ~10 A each; HIGH_W does not bind. */
function limits(n: number) {
  const siteW = BASE_W + n * 16 * VOLTS_3P + MARGIN_W;
  return { siteW, lowW: BASE_W + n * 10 * VOLTS_3P + MARGIN_W, highW: siteW * 2 };
}

function siteConfig(n: number, meterPort: number, vtnUrl: string): Record<string, unknown> {
  return {
    ...meteredSite({ id: `grid-${n}`, chargers: n, meterPort, pollMs: 100, limitW: limits(n).siteW }),
    grid: {
      marginW: MARGIN_W,
      // Until the VEN's first poll the fallback applies: high enough not to move the sessions.
      fallback: { importLimitW: limits(n).highW },
      openadr: {
        enabled: true,
        vtnUrl,
        clientId: 'ven-client',
        clientSecret: 'ven-secret',
        venName: 'bench',
        programNames: [PROGRAM],
        // Events arrive by subscription callback (to the gateway's API server), not by the poll.
        pollIntervalMs: 600_000,
        reportIntervalMs: 600_000,
        subscribe: true,
      },
    },
  };
}

/** Sends one signal and times every charger's cut; then lifts it and waits until the chargers have recovered. */
async function trial(
  fleet: Peer,
  k: Kind,
  cut: () => Promise<void>,
  lift: () => Promise<void>,
  recoverA: number,
): Promise<string> {
  await fleet.request('arm');
  const t0 = monoMs();
  await cut();
  const r = await fleet.request<StepResult>('collect', { t0, timeoutMs: 5000 });
  k.deliveries.push(...r.deliveries);
  k.heartbeats.push(...r.heartbeats);
  k.missing += r.missing;
  k.expected += r.expected;
  if (r.missing === 0 && r.deliveries.length > 0) k.lastPerSignal.push(Math.max(...r.deliveries));
  await lift();
  const rel = await fleet.request<{ limits: string }>('release', {
    untilA: recoverA,
    quietMs: 1500,
    timeoutMs: 15_000,
  });
  return `cut to ${r.cutTo}, ${r.missing} missing; released to ${rel.limits}`;
}

async function measure(n: number, trials: number) {
  const key = randomBytes(24).toString('hex');
  const vtn = createVtnSim({ clock: vtnWallClock, programs: [{ programName: PROGRAM }] });
  await vtn.start();
  const programID = [...vtn.programs.values()][0]?.id as string;
  const meter = forkPeer('./meter-peer.ts');
  const fleet = forkPeer('./chargers-peer.ts');
  fleet.on('ev', (w) => void meter.request('ev', { w }).catch(() => {}));
  let gw: GatewayUnderTest | undefined;
  const simple: Kind = { deliveries: [], lastPerSignal: [], heartbeats: [], missing: 0, expected: 0, answers: [] };
  const adr: Kind = { deliveries: [], lastPerSignal: [], heartbeats: [], missing: 0, expected: 0, answers: [] };
  const { lowW, highW } = limits(n);
  const debug = (s: string) => process.env.GK_BENCH_DEBUG && process.stderr.write(`${s}\n`);
  try {
    const { port } = await meter.request<{ port: number }>('start', { baseW: BASE_W });
    gw = await startGateway(siteConfig(n, port, vtn.url), `grid-${n}`, { GRIDKEEPER_ADMIN_KEY: key });
    const apiUrl = gw.apiUrl;
    await fleet.request('connect', { url: gw.ocppUrl, n, meterIntervalMs: 10_000, followMs: 100 });
    const settled = await fleet.request<{ medianA: number; state: string; ms: number }>('settle', {
      minA: 12,
      share: 0.95,
      quietMs: 1500,
      timeoutMs: 90_000,
    });
    debug(`settled in ${settled.ms.toFixed(0)} ms: ${settled.state}`);
    const recoverA = settled.medianA - 1;

    let seq = 0;
    const post = async (importLimitW: number) => {
      const t = performance.now();
      const res = await fetch(`${apiUrl}/api/v1/grid/limit`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ importLimitW, until: Date.now() + 3_600_000, id: `bench-${seq++}` }),
      });
      if (res.status !== 200) throw new Error(`POST /api/v1/grid/limit: ${res.status} ${await res.text()}`);
      simple.answers.push(performance.now() - t);
    };
    for (let s = 0; s < trials; s++) {
      debug(
        `simple ${s}: ${await trial(
          fleet,
          simple,
          () => post(lowW),
          () => post(highW),
          recoverA,
        )}`,
      );
    }
    // The simple signal stays at the high limit (it does not bind) while the OpenADR events run.

    const event = (name: string, w: number) => ({
      programID,
      eventName: name,
      payloadDescriptors: [{ payloadType: 'IMPORT_CAPACITY_LIMIT', units: 'KW' }],
      intervalPeriod: { start: new Date(Date.now() - 1000).toISOString(), duration: 'PT1H' },
      intervals: [{ id: 0, payloads: [{ type: 'IMPORT_CAPACITY_LIMIT', values: [w / 1000] }] }],
    });
    let eventId: string | undefined;
    for (let s = 0; s < trials; s++) {
      const cut = async () => {
        // The first signal creates the event, the others change it (a VTN updating its event).
        if (eventId === undefined) eventId = String(vtn.createEvent(event(`adr-${s}`, lowW)).id);
        else vtn.updateEvent(eventId, event(`adr-${s}`, lowW));
      };
      const lift = async () => {
        vtn.updateEvent(eventId as string, event(`adr-${s}-lift`, highW));
      };
      debug(`openadr ${s}: ${await trial(fleet, adr, cut, lift, recoverA)}`);
    }
    return { simple, adr, settled, rssMiB: gw.rss() / 2 ** 20 };
  } finally {
    await gw?.stop();
    for (const p of [fleet, meter]) {
      await p.request('stop').catch(() => {});
      await p.stop();
    }
    await vtn.stop();
  }
}

function rows(label: string, path: string, n: number, trials: number, k: Kind): BenchResult[] {
  // A cut that did not arrive within 5 s counts as infinitely slow.
  const all = [...k.deliveries, ...Array<number>(k.missing).fill(Number.POSITIVE_INFINITY)];
  const p99 = percentile(all, 99);
  return [
    {
      name: `${label} → SetChargingProfile at charger, ${n} chargers, p50`,
      value: percentile(all, 50),
      unit: 'ms',
      baseline: percentile(k.heartbeats, 50),
    },
    {
      name: `${label} → SetChargingProfile at charger, ${n} chargers, p99`,
      value: p99,
      unit: 'ms',
      baseline: percentile(k.heartbeats, 99),
      target: 'p99 <= 200 ms at 200 chargers',
      met: p99 <= 200,
      notes: `${path}; ${k.deliveries.length}/${k.expected} cuts received (${k.missing} missing after 5 s) over ${trials} signals; last charger cut per signal max ${Math.max(...k.lastPerSignal).toFixed(1)} ms; baseline: a charger's Heartbeat round trip through the gateway sent at the signal (${k.heartbeats.length} probes)${k.answers.length > 0 ? `; the POST's own answer p50 ${percentile(k.answers, 50).toFixed(1)} ms, p99 ${percentile(k.answers, 99).toFixed(1)} ms` : ''}`,
    },
  ];
}

/** `npm run bench` entry. */
export async function run(opts: GridBenchOptions = {}): Promise<BenchResult[]> {
  const n = opts.chargers ?? 200;
  const trials = opts.trials ?? 15;
  const m = await measure(n, trials);
  return [
    ...rows(
      'simple grid signal (HTTP POST /api/v1/grid/limit)',
      'POST with an API key → gridkeeper run → OCPP',
      n,
      trials,
      m.simple,
    ),
    ...rows(
      'OpenADR 3 event (VTN simulator)',
      'VTN event update → subscription callback → VEN poll over HTTP → gridkeeper run → OCPP',
      n,
      trials,
      m.adr,
    ),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await run({ chargers: Number(process.argv[2] ?? 20), trials: Number(process.argv[3] ?? 3) });
  for (const x of r) process.stdout.write(`${x.name}: ${x.value.toFixed(2)} ${x.unit} ${x.notes ?? ''}\n`);
  process.exit(0);
}
