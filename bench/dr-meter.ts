/**
 * DR limits met at the grid meter (issue 15 item 7), the long version of
 * test/e2e/dr-limit-at-meter.test.ts: `gridkeeper run` in its own process
 * (bench/gateway.ts), N OCPP 1.6J chargers whose vehicles follow a new limit
 * 5 s late (bench/peers/chargers-peer.ts, own process), an Eastron grid meter
 * on Modbus TCP reading base load + what the vehicles really draw
 * (bench/peers/meter-peer.ts, own process), and the utility's VTN simulator
 * (sim/utility/vtn.ts) changing one OpenADR IMPORT_CAPACITY_LIMIT event
 * interval after interval, down and up. Per interval: the time from the VTN
 * change until the meter is under the limit for good (within the window),
 * and the share of samples under the limit from 10 s after the start.
 * Baseline in the same run: the vehicles' own follow delay, the floor no
 * controller can beat.
 */
import { randomBytes } from 'node:crypto';
import { createVtnSim } from '../sim/utility/vtn.js';
import { type GatewayUnderTest, startGateway } from './gateway.js';
import { BASE_W, MARGIN_W, meteredSite, VOLTS_3P } from './metered-site.js';
import { forkPeer } from './peers/ipc.js';
import { type BenchResult, percentile } from './types.js';
import { vtnWallClock } from './vtn-clock.js';

export interface DrMeterOptions {
  readonly chargers?: number;
  /** Per-vehicle current during each interval, A (the limit is sized from it). */
  readonly levelsA?: readonly number[];
  readonly windowMs?: number;
}

const FOLLOW_MS = 5000;
const TOL_W = 200;

export async function run(opts: DrMeterOptions = {}): Promise<BenchResult[]> {
  const n = opts.chargers ?? 10;
  const levelsA = opts.levelsA ?? [10, 7, 12, 8, 11, 6];
  const windowMs = opts.windowMs ?? 20_000;
  const siteW = BASE_W + n * 16 * VOLTS_3P + MARGIN_W;
  const vtn = createVtnSim({ clock: vtnWallClock, programs: [{ programName: 'dr' }] });
  await vtn.start();
  const programID = String([...vtn.programs.values()][0]?.id);
  const meter = forkPeer('./meter-peer.ts');
  const fleet = forkPeer('./chargers-peer.ts');
  let evW = 0;
  fleet.on('ev', (w) => {
    evW = Number(w);
    void meter.request('ev', { w }).catch(() => {});
  });
  let gw: GatewayUnderTest | undefined;
  const metMs: number[] = [];
  const compliance: number[] = [];
  const notes: string[] = [];
  try {
    const { port } = await meter.request<{ port: number }>('start', { baseW: BASE_W });
    const config = {
      ...meteredSite({ id: `dr-meter-${n}`, chargers: n, meterPort: port, pollMs: 200, limitW: siteW }),
      grid: {
        marginW: MARGIN_W,
        fallback: { importLimitW: siteW },
        openadr: {
          enabled: true,
          vtnUrl: vtn.url,
          clientId: 'ven-client',
          clientSecret: 'ven-secret',
          venName: 'bench',
          programNames: ['dr'],
          pollIntervalMs: 600_000,
          reportIntervalMs: 600_000,
          subscribe: true,
        },
      },
    };
    gw = await startGateway(config, `dr-meter-${n}`, { GRIDKEEPER_ADMIN_KEY: randomBytes(24).toString('hex') });
    await fleet.request('connect', { url: gw.ocppUrl, n, meterIntervalMs: 10_000, followMs: FOLLOW_MS });
    await fleet.request('settle', { minA: 12, share: 0.9, quietMs: 3000, timeoutMs: 90_000 });
    let eventId: string | undefined;
    for (const [k, a] of levelsA.entries()) {
      const limitW = BASE_W + n * a * VOLTS_3P + MARGIN_W;
      const event = {
        programID,
        eventName: `interval-${k}`,
        payloadDescriptors: [{ payloadType: 'IMPORT_CAPACITY_LIMIT', units: 'KW' }],
        intervalPeriod: { start: new Date(Date.now() - 500).toISOString(), duration: 'PT1H' },
        intervals: [{ id: 0, payloads: [{ type: 'IMPORT_CAPACITY_LIMIT', values: [limitW / 1000] }] }],
      };
      const t0 = Date.now();
      if (eventId === undefined) eventId = String(vtn.createEvent(event).id);
      else vtn.updateEvent(eventId, event);
      let lastOver = t0;
      let judged = 0;
      let ok = 0;
      while (Date.now() - t0 < windowMs) {
        const w = BASE_W + evW;
        const under = w <= limitW + TOL_W;
        if (!under) lastOver = Date.now();
        if (Date.now() - t0 >= 10_000) {
          judged++;
          if (under) ok++;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      metMs.push(lastOver - t0);
      compliance.push(judged > 0 ? (100 * ok) / judged : Number.NaN);
      notes.push(`${(limitW / 1000).toFixed(1)} kW: met after ${((lastOver - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await gw?.stop();
    for (const p of [fleet, meter]) {
      await p.request('stop').catch(() => {});
      await p.stop();
    }
    await vtn.stop();
  }
  const p99 = percentile(metMs, 99);
  const minCompliance = Math.min(...compliance);
  return [
    {
      name: `OpenADR import limit met at the grid meter, ${n} chargers, vehicles ${FOLLOW_MS / 1000} s late, worst of ${levelsA.length} intervals (p99)`,
      value: p99,
      unit: 'ms',
      baseline: FOLLOW_MS,
      target: 'met within 10 s of the start, every interval',
      met: p99 <= 10_000,
      notes: notes.join('; '),
    },
    {
      name: `OpenADR import limit compliance at the meter from 10 s after each start, ${n} chargers, worst interval`,
      value: minCompliance,
      unit: '%',
      target: '100 %',
      met: minCompliance >= 100,
    },
  ];
}
