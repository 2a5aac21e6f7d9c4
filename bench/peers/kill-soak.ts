/**
 * The kill soak (issue 14, items 4 and 5): the gateway as `gridkeeper run`
 * in its own process, chargers cycling sessions through it to a CMS, the CMS
 * away for some seconds in the middle, and the gateway killed with SIGKILL
 * at random moments and started again on the same config and data
 * directory. At the end the chargers finish their sessions, the gateway
 * drains its outbox, and the CMS's record is judged (soak-verdict.ts).
 *
 * Used by the crash-safety test (test/e2e/kill/) and the bench
 * (bench/soak-kill.ts). Nothing of the gateway is imported.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayProcess } from './gateway-process.js';
import { freePort } from './ports.js';
import { between, mulberry32 } from './rng.js';
import { SoakCharger } from './soak-charger.js';
import { SoakCms } from './soak-cms.js';
import { judge, MUST_REACH, type SoakVerdict } from './soak-verdict.js';

export interface KillSoakOptions {
  /** Checkout whose gateway runs. */
  readonly root: string;
  readonly entry: 'dist' | 'tsx';
  readonly seed?: number;
  readonly chargers?: number;
  readonly kills?: number;
  /** How long the gateway runs after it is up before the next kill, ms. */
  readonly upMs?: readonly [number, number];
  /** The CMS goes away this long before this kill (1-based) and stays away until shortly before the next one... */
  readonly outageAtKill?: number;
  /**
   * ...for this much gateway up time (half before the kill, half after the restart), ms. Counted in up time, not
   * wall time: on a busy machine a restart can take most of a wall-clock window, and sessions must start and stop
   * while the gateway runs and the CMS is away.
   */
  readonly outageMs?: number;
  /** After the last restart: time for the chargers to finish their sessions and the outbox to drain, ms. */
  readonly drainMs?: number;
  /** The chargers repeat an unanswered call under a new message id (see SoakChargerOptions). */
  readonly retryWithNewId?: boolean;
  /** Progress lines (kill n, outage). */
  readonly log?: (line: string) => void;
  /** Keep the data directory, config and gateway log (its path is in the report). */
  readonly keep?: boolean;
}

export interface KillSoakReport extends SoakVerdict {
  readonly seed: number;
  readonly chargers: number;
  readonly kills: number;
  /** How long the CMS was away, wall time, ms. */
  readonly outageMs: number;
  readonly seconds: number;
  readonly chargerCallErrors: number;
  readonly chargerLastErrors: readonly string[];
  readonly chargerFailures: readonly string[];
  /** Chargers still in a session or on an unanswered call when the drain time ran out. */
  readonly chargersNotIdle: number;
  readonly cmsReceived: number;
  readonly dir: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function siteConfig(n: number, ocppPort: number, apiPort: number, cmsUrl: string, dbPath: string) {
  return {
    site: { id: 'kill-soak', limitW: n * 32 * 690, failsafeLimitW: n * 32 * 690 },
    chargers: Array.from({ length: n }, (_, i) => ({ id: chargerId(i) })),
    ocpp: {
      host: '127.0.0.1',
      port: ocppPort,
      securityProfile: 0,
      unknownChargers: 'reject',
      forwardTimeoutMs: 2000,
      upstream: { url: cmsUrl, reconnectMinMs: 200, reconnectMaxMs: 1000, callTimeoutMs: 5000 },
      replay: { retryMinMs: 200, retryMaxMs: 2000 },
    },
    api: { host: '127.0.0.1', port: apiPort },
    store: { path: dbPath },
    log: { level: 'warn' },
  };
}

const chargerId = (i: number) => `KS${String(i).padStart(2, '0')}`;

export async function runKillSoak(o: KillSoakOptions): Promise<KillSoakReport> {
  const seed = o.seed ?? 14;
  const n = o.chargers ?? 20;
  const kills = o.kills ?? 20;
  const upMs = o.upMs ?? [600, 3500];
  const outageAtKill = o.outageAtKill ?? Math.ceil(kills * 0.4);
  const outageMs = o.outageMs ?? 12_000;
  const log = o.log ?? (() => {});
  const rng = mulberry32(seed);
  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'gk-kill-soak-'));
  const cms = new SoakCms();
  const cmsUrl = await cms.start(0);
  const ocppPort = await freePort();
  const apiPort = await freePort();
  const configFile = join(dir, 'site.yaml');
  // JSON is YAML: the gateway reads it with the loader of any site file.
  writeFileSync(configFile, JSON.stringify(siteConfig(n, ocppPort, apiPort, cmsUrl, join(dir, 'gk.db')), null, 2));
  const gw = new GatewayProcess({
    root: o.root,
    entry: o.entry,
    configFile,
    logFile: join(dir, 'gateway.log'),
    healthUrl: `http://127.0.0.1:${apiPort}/healthz`,
    // A busy CI machine can take long to start node; a slow start is not what this test judges.
    readyTimeoutMs: 120_000,
  });
  const chargers = Array.from(
    { length: n },
    (_, i) =>
      new SoakCharger({
        url: `ws://127.0.0.1:${ocppPort}/ocpp`,
        id: chargerId(i),
        seed: seed * 1000 + i,
        meterEveryMs: 300,
        metersPerSession: [2, 7],
        gapMs: [200, 1500],
        heartbeatEveryMs: 4000,
        callTimeoutMs: 10_000,
        reconnectMs: 300,
        retryWithNewId: o.retryWithNewId ?? false,
      }),
  );
  let outageT0 = 0;
  let outageWallMs = 0;
  try {
    await gw.start();
    for (const c of chargers) c.start();
    for (let k = 1; k <= kills; k++) {
      if (k === outageAtKill) {
        log('CMS down');
        outageT0 = performance.now();
        await cms.stop();
        await sleep(outageMs / 2);
      } else if (k === outageAtKill + 1) {
        await sleep(outageMs / 2);
        await cms.start();
        outageWallMs = performance.now() - outageT0;
        log(`CMS back after ${Math.round(outageWallMs)} ms`);
        // Killed while the backlog of the outage is being replayed.
        await sleep(between(rng, [200, 1500]));
      } else {
        await sleep(between(rng, upMs));
      }
      await gw.kill();
      log(`kill ${k}/${kills} (pid ${gw.pid})`);
      await sleep(between(rng, [0, 600]));
      await gw.start();
    }
    if (!cms.up) await cms.start();
    await sleep(1500);
    for (const c of chargers) c.windDown();
    const drainMs = o.drainMs ?? 60_000;
    const deadline = Date.now() + drainMs;
    const allArrived = () => {
      const v = judge(chargers, cms.receipts, cms.issued);
      return v.lost === 0 && v.unconfirmed === 0;
    };
    while (Date.now() < deadline && !(chargers.every((c) => c.idle) && allArrived())) await sleep(250);
    // A moment more for late duplicates to show up in the record.
    await sleep(1000);
  } finally {
    await gw.stop();
    await Promise.all(chargers.map((c) => c.close()));
    await cms.stop();
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
  }
  const verdict = judge(chargers, cms.receipts, cms.issued);
  return {
    ...verdict,
    seed,
    chargers: n,
    kills,
    outageMs: Math.round(outageWallMs),
    seconds: Math.round((performance.now() - t0) / 1000),
    chargerCallErrors: chargers.reduce((s, c) => s + c.callErrors, 0),
    chargerLastErrors: chargers.flatMap((c) => (c.lastError ? [`${c.id}: ${c.lastError}`] : [])).slice(0, 5),
    chargerFailures: chargers.flatMap((c) => (c.failure ? [`${c.id}: ${c.failure.message}`] : [])),
    chargersNotIdle: chargers.filter((c) => !c.idle).length,
    cmsReceived: cms.receipts.filter((r) => MUST_REACH.has(r.action)).length,
    dir,
  };
}
