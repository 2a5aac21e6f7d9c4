/**
 * One control round of the whole gateway at N chargers (`npm run bench -- control`): the gateway as
 * `createGateway` builds it (every policy, the draw estimate, the allocator, the dispatcher, the
 * set-point audit in a real SQLite file), not started (no listeners), on a virtual clock. Chargers are
 * sinks that confirm at once and report the current they were given; between rounds a tenth of them
 * report a meter value, the grid meter reports, and sessions start and stop. Timed: `runRound` until
 * every write is confirmed and the audit is written, i.e. how long the event loop is held per round.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway } from '../src/cli/compose.js';
import { validateConfig } from '../src/config/load.js';
import { VirtualClock } from '../src/model/clock.js';
import { reading } from '../src/model/reading.js';
import type { EvseSpec } from '../src/model/site.js';
import { silentLogger } from '../src/util/logger.js';

export interface RoundTimes {
  /** Wall time per round, ms. */
  readonly wall: number[];
  /** CPU time (user + system) of this process per round, ms: hardly moved by other load on the machine. */
  readonly cpu: number[];
  readonly writesPerRound: number;
  /** Wall time of the round's draw-estimate phase (`DrawEstimator.apply` + `record`) per round, ms. */
  readonly estimate: number[];
}

const BASE_W = 50_000;

export async function measureControlRound(n: number, rounds: number, warmup = 100): Promise<RoundTimes> {
  const dir = mkdtempSync(join(tmpdir(), 'gk-bench-round-'));
  // Every vehicle gets ~16 A of its 32 A: the limit binds, so the allocator shares.
  const checked = validateConfig(
    {
      site: { id: 'round-bench', limitW: BASE_W + n * 16 * 690, failsafeLimitW: BASE_W + n * 8 * 690 },
      chargers: Array.from({ length: n }, (_, i) => ({ id: `CP${i}` })),
      ocpp: { host: '127.0.0.1', port: 0, securityProfile: 0 },
      api: { host: '127.0.0.1', port: 0 },
      store: { path: join(dir, 'gridkeeper.db') },
    },
    {},
  );
  if (!checked.ok) throw new Error(`round bench config invalid: ${JSON.stringify(checked.errors)}`);
  const clock = new VirtualClock();
  const gw = createGateway(checked.config, { clock, log: silentLogger(), env: {}, defaultMetrics: false });
  const { core } = gw;
  let writes = 0;
  const given = new Map<string, number>();
  for (let i = 0; i < n; i++)
    core.dispatcher.registerSink(`CP${i}`, {
      applySetpoint: async (sp) => {
        writes++;
        given.set(sp.evseId, sp.currentA);
      },
    });
  // The draw estimate's share of the round, timed around this gateway's own estimator.
  const draws = core.loop.draws;
  const apply = draws.apply.bind(draws);
  const record = draws.record.bind(draws);
  let estimateMs = 0;
  draws.apply = (s, now) => {
    const t = performance.now();
    const out = apply(s, now);
    estimateMs += performance.now() - t;
    return out;
  };
  draws.record = (sps, s, now) => {
    const t = performance.now();
    record(sps, s, now);
    estimateMs += performance.now() - t;
  };
  core.start();
  const id = (i: number) => `CP${i}/1`;
  const spec = (i: number): EvseSpec => ({
    id: id(i),
    chargerId: `CP${i}`,
    connectorId: 1,
    protocol: 'ocpp',
    circuitId: 'site',
    phaseRotation: 'L1L2L3',
    phases: 3,
    minCurrentA: 6,
    maxCurrentA: 32,
    voltageV: 230,
    bidirectional: false,
    priority: 0,
  });
  const start = (i: number, k: number) =>
    core.bus.emit('evse.live', {
      id: id(i),
      patch: { status: 'Charging', sessionId: `s${i}.${k}`, sessionStart: clock.now() },
    });
  for (let i = 0; i < n; i++) {
    core.bus.emit('evse.spec', spec(i));
    start(i, 0);
  }
  const wall: number[] = [];
  const cpu: number[] = [];
  const estimate: number[] = [];
  let writesMeasured = 0;
  try {
    for (let k = 0; k < rounds + warmup; k++) {
      let evW = 0;
      for (const a of given.values()) evW += a * 690;
      core.bus.emit('grid', { powerW: reading(BASE_W + evW, clock.now(), 'meter') });
      for (let j = 0; j < n / 10; j++) {
        const i = (k * 97 + j * 13) % n;
        const a = given.get(id(i)) ?? 0;
        core.bus.emit('evse.live', {
          id: id(i),
          patch: {
            powerW: reading(a * 690, clock.now(), `CP${i}`),
            currentsA: reading([a, a, a] as const, clock.now(), `CP${i}`),
          },
        });
      }
      // Sessions end and begin: a few chargers every other second.
      if (k % 20 === 10)
        for (let j = 0; j < 5; j++)
          core.bus.emit('evse.live', {
            id: id((k * 31 + j) % n),
            patch: { status: 'Available', sessionId: undefined, sessionStart: undefined },
          });
      if (k % 20 === 0) for (let j = 0; j < 5; j++) start((k * 31 + j + 300) % n, k);
      clock.advance(100);
      const w0 = writes;
      const c0 = process.cpuUsage();
      estimateMs = 0;
      const t0 = performance.now();
      core.loop.runRound('manual');
      await core.dispatcher.idle();
      await new Promise((r) => setImmediate(r)); // the audit's transaction
      if (k < warmup) continue;
      wall.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
      estimate.push(estimateMs);
      writesMeasured += writes - w0;
    }
  } finally {
    core.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { wall, cpu, writesPerRound: writesMeasured / rounds, estimate };
}
