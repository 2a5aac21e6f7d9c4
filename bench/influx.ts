/**
 * InfluxDB export points/s, end to end: `gridkeeper run` (bench/gateway.ts)
 * with N OCPP charger peers in session samples its state every 250 ms into
 * its disk buffer while the configured InfluxDB is down; then a real influxd
 * (Debian 1.x, bench/peers/influxd.ts) starts on that port and the rate at
 * which the backlog arrives is read from influxd itself (points sampled
 * before influxd started, counted as they land). The gateway's retry
 * back-off until its first write is reported, not part of the figure.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GatewayUnderTest, startGateway } from './gateway.js';
import { monoMs } from './peers/clock.js';
import { INFLUXD, type Influxd, startInfluxd } from './peers/influxd.js';
import { forkPeer } from './peers/ipc.js';
import { freePort } from './peers/ports.js';
import type { BenchResult } from './types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const INTERVAL_MS = 250;

function siteConfig(n: number, influxPort: number): Record<string, unknown> {
  return {
    site: { id: `influx-${n}`, limitW: n * 32 * 690, failsafeLimitW: n * 6 * 690 },
    chargers: Array.from({ length: n }, (_, i) => ({ id: `CP${i}` })),
    ocpp: { securityProfile: 0, unknownChargers: 'reject' },
    integration: {
      influx: { port: influxPort, database: 'bench', intervalMs: INTERVAL_MS, maxBufferedPoints: 5_000_000 },
    },
  };
}

/** `backlogPoints`: roughly how many points to let the gateway buffer before influxd starts. */
export async function measureInflux(n: number, backlogPoints = 100_000): Promise<BenchResult | undefined> {
  if (!existsSync(INFLUXD)) return undefined;
  const ports = { http: await freePort(), rpc: await freePort() };
  const dir = mkdtempSync(join(tmpdir(), 'gk-bench-influxd-'));
  const fleet = forkPeer('./chargers-peer.ts');
  let gw: GatewayUnderTest | undefined;
  let influxd: Influxd | undefined;
  try {
    gw = await startGateway(siteConfig(n, ports.http), `influx-${n}`);
    await fleet.request('connect', { url: gw.ocppUrl, n, meterIntervalMs: 10_000, followMs: 100 });
    // Every sample is one point per EVSE (and the grid, if metered).
    await sleep((backlogPoints / n) * INTERVAL_MS);
    const startedAt = Date.now();
    influxd = await startInfluxd(dir, ports);
    const db = influxd;
    const q = `SELECT count(status) FROM evse WHERE time < ${startedAt}ms`;
    const count = async () => {
      const r = (await db.query('bench', q).catch(() => undefined)) as
        | { results?: Array<{ series?: Array<{ values?: number[][] }> }> }
        | undefined;
      return Number(r?.results?.[0]?.series?.[0]?.values?.[0]?.[1] ?? 0);
    };
    const up = monoMs();
    // The gateway's back-off after failed writes (up to 30 s) decides when it tries again.
    let first = await count();
    while (first === 0 && monoMs() - up < 60_000) {
      await sleep(20);
      first = await count();
    }
    const firstAt = monoMs();
    let last = first;
    let lastAt = firstAt;
    while (monoMs() - lastAt < 3000) {
      await sleep(20);
      const c = await count();
      if (c !== last) {
        last = c;
        lastAt = monoMs();
      }
    }
    const drainS = (lastAt - firstAt) / 1000;
    const perS = drainS > 0 ? (last - first) / drainS : Number.NaN;
    return {
      name: `InfluxDB export e2e, disk-buffer backlog drained into influxd (${n} EVSEs)`,
      value: perS,
      unit: 'points/s',
      target: '>= 50000 points/s',
      met: perS >= 50_000,
      notes: `${last} points sampled every ${INTERVAL_MS} ms by \`gridkeeper run\` while influxd was down, counted in influxd as they landed (${last - first} after the first observation, over ${drainS.toFixed(2)} s); the gateway's retry back-off took ${((firstAt - up) / 1000).toFixed(1)} s (not in the figure); real influxd 1.x; no baseline`,
    };
  } finally {
    await gw?.stop();
    await fleet.request('stop').catch(() => {});
    await fleet.stop();
    await influxd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await measureInflux(Number(process.argv[2] ?? 50), Number(process.argv[3] ?? 20_000));
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
}
