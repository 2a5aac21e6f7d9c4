/**
 * Grid signal → set-points dispatched, at 200 chargers: the time from a
 * simple DR signal (the HTTP/MQTT handler) or an OpenADR event (VTN
 * simulator → subscription callback → VEN poll over HTTP) until the first
 * control round that applies it has been decided and every set-point it
 * changed has been written to the chargers' sinks. In-process core
 * (createCore) on the system clock, the real control loop, arbiter and
 * default (circuit-tree) allocator, an immediate sink per charger. Chargers
 * follow their set-points at once (the process image shows what they were
 * told), so the allocator's hold for slow vehicles does not pile up.
 * Baseline in the same run: one control round on its own.
 */
import { performance } from 'node:perf_hooks';
import Fastify from 'fastify';
import { createOpenAdrVen } from '../adapters/openadr/ven.js';
import { type Core, createCore } from '../src/cli/core.js';
import { validateConfig } from '../src/config/load.js';
import { OpenAdrSchema } from '../src/config/sections/grid.js';
import { gridPolicies } from '../src/cli/policies.js';
import { createGridService, type GridService } from '../src/grid/service.js';
import { SystemClock } from '../src/model/clock.js';
import { reading } from '../src/model/reading.js';
import { silentLogger } from '../src/util/logger.js';
import { createVtnSim } from '../sim/utility/vtn.js';
import { type BenchResult, percentile } from './types.js';

export interface GridBenchOptions {
  readonly chargers?: number;
  /** Signals per measurement. */
  readonly trials?: number;
  /** Pause between signals, ms (longer than the loop's coalescing window). */
  readonly gapMs?: number;
  readonly timeoutMs?: number;
}

export interface LatencyStats {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Set-points written per signal (mean): how much of the site each signal moved. */
  readonly writtenPerSignal: number;
}

export interface GridBenchResult {
  readonly chargers: number;
  readonly trials: number;
  /** Simple signal → set-points dispatched, ms. */
  readonly simple: LatencyStats;
  /** OpenADR event created on the VTN → set-points dispatched, ms. */
  readonly openadr: LatencyStats;
  /** One control round on its own (decide + allocate + hand to the dispatcher), ms. */
  readonly roundBaseline: { readonly p50: number; readonly p99: number };
}

/** Limits alternate between these two (W): every step moves every charger (about 2 A each at 200). */
const HIGH_W = 1_350_000;
const LOW_W = 1_000_000;

interface Rig {
  readonly core: Core;
  readonly grid: GridService;
  /** Every charger now draws what it was last told. */
  follow(): void;
  /** Resolves (performance.now()) once a round naming `tag` ran and its writes are done; counts writes naming it. */
  waitDispatched(tag: string, timeoutMs: number): Promise<{ at: number; written: number }>;
  close(): Promise<void>;
}

function makeRig(chargers: number): Rig {
  const clock = new SystemClock();
  const r = validateConfig(
    {
      site: {
        id: 'bench',
        limitW: 5_000_000,
        failsafeLimitW: 1_000_000,
        gridStaleAfterMs: 60_000,
        staleAfterMs: 60_000,
      },
      store: { path: ':memory:' },
      // The VEN starts in safe mode until its first poll; a high fallback keeps that from moving the sessions.
      grid: { marginW: 0, floorPerDeviceW: 0, fallback: { importLimitW: 5_000_000 } },
    },
    {},
  );
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  let grid: GridService | undefined;
  const core = createCore(r.config, {
    clock,
    log: silentLogger(),
    defaultMetrics: false,
    policies: gridPolicies(r.config, () => grid),
  });
  grid = createGridService(r.config, { clock, log: core.log, metrics: core.metrics, bus: core.bus });
  grid.store.onChange(() => core.loop.notifyChange());
  const applied = new Map<string, { currentA: number; powerW: number }>();
  let counting: { tag: string; n: number } | undefined;
  for (let i = 0; i < chargers; i++) {
    core.dispatcher.registerSink(`CP${String(i).padStart(3, '0')}`, {
      applySetpoint: async (sp) => {
        applied.set(sp.evseId, { currentA: sp.currentA, powerW: sp.powerW });
        const c = counting;
        if (c && sp.reasons.some((x) => x.text.includes(c.tag))) c.n++;
      },
    });
  }
  core.start();
  grid.start();
  const now = clock.now();
  for (let i = 0; i < chargers; i++) {
    const id = `CP${String(i).padStart(3, '0')}`;
    core.bus.emit('evse.spec', {
      id: `${id}/1`,
      chargerId: id,
      connectorId: 1,
      protocol: 'sim',
      circuitId: 'site',
      phaseRotation: 'L1L2L3',
      phases: 3,
      minCurrentA: 6,
      maxCurrentA: 32,
      voltageV: 230,
      bidirectional: false,
      priority: 0,
    });
    core.bus.emit('evse.live', { id: `${id}/1`, patch: { status: 'Charging', sessionStart: now } });
  }
  core.bus.emit('grid', { powerW: reading(20_000, now, 'meter') });
  const names = (tag: string) =>
    core.loop.lastRound()?.limits.some((l) => l.scope === 'evses' && l.reasons.some((x) => x.text.includes(tag))) ??
    false;
  return {
    core,
    grid,
    follow() {
      const t = clock.now();
      let sum = 0;
      for (const [evseId, a] of applied) {
        sum += a.powerW;
        core.bus.emit('evse.live', {
          id: evseId,
          patch: {
            powerW: reading(a.powerW, t, evseId),
            currentsA: reading([a.currentA, a.currentA, a.currentA] as const, t, evseId),
          },
        });
      }
      core.bus.emit('grid', { powerW: reading(20_000 + sum, t, 'meter') });
    },
    async waitDispatched(tag, timeoutMs) {
      counting = { tag, n: 0 };
      const deadline = performance.now() + timeoutMs;
      // Poll on the event loop's check phase: the round runs from a timer, the writes from promises.
      while (!names(tag)) {
        if (performance.now() > deadline) throw new Error(`no control round applied ${tag} within ${timeoutMs} ms`);
        await new Promise((res) => setImmediate(res));
      }
      await core.dispatcher.idle();
      const at = performance.now();
      const written = counting.n;
      counting = undefined;
      return { at, written };
    },
    async close() {
      grid?.stop();
      core.loop.stop();
      // Writes still in flight audit into the database: let them finish before it closes.
      await core.dispatcher.idle();
      core.stop();
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stats(xs: number[], written: number[]): LatencyStats {
  return {
    p50: percentile(xs, 50),
    p99: percentile(xs, 99),
    max: Math.max(...xs),
    writtenPerSignal: written.reduce((s, x) => s + x, 0) / Math.max(1, written.length),
  };
}

async function simpleSignals(o: Required<GridBenchOptions>): Promise<LatencyStats> {
  const out: number[] = [];
  const written: number[] = [];
  const rig = makeRig(o.chargers);
  try {
    await sleep(o.gapMs);
    for (let k = 0; k < o.trials; k++) {
      const id = `bench-${k}`;
      const t0 = performance.now();
      const res = rig.grid.applySimpleSignal({
        importLimitW: k % 2 === 0 ? LOW_W : HIGH_W,
        until: Date.now() + 600_000,
        id,
      });
      if (!res.ok) throw new Error(JSON.stringify(res.errors));
      const r = await rig.waitDispatched(id, o.timeoutMs);
      out.push(r.at - t0);
      written.push(r.written);
      rig.follow();
      await sleep(o.gapMs);
    }
  } finally {
    await rig.close();
  }
  return stats(out, written);
}

async function openAdrEvents(o: Required<GridBenchOptions>): Promise<LatencyStats> {
  const out: number[] = [];
  const written: number[] = [];
  const clock = new SystemClock();
  const vtn = createVtnSim({ clock, programs: [{ programName: 'bench' }] });
  await vtn.start();
  const programID = [...vtn.programs.values()][0]?.id ?? '';
  const rig = makeRig(o.chargers);
  const ven = createOpenAdrVen(
    OpenAdrSchema.parse({
      enabled: true,
      vtnUrl: vtn.url,
      clientId: 'ven-client',
      clientSecret: 'ven-secret',
      venName: 'bench',
      programNames: ['bench'],
      pollIntervalMs: 600_000,
      reportIntervalMs: 600_000,
      // Subscribe with the callback served where the VEN's routes are (the gateway's API server in production).
      subscribe: true,
    }),
    {
      clock,
      log: silentLogger(),
      metrics: rig.core.metrics,
      store: rig.grid.store,
      measurements: () => ({}),
      baseUrl: () => callbackBase,
    },
  );
  const callbackHost = Fastify();
  await callbackHost.register(async (app) => ven.routes(app));
  const callbackBase = await callbackHost.listen({ port: 0, host: '127.0.0.1' });
  try {
    await ven.start();
    await ven.pollNow();
    await sleep(o.gapMs);
    let eventId: string | undefined;
    for (let k = 0; k < o.trials; k++) {
      const name = `adr-${k}`;
      const event = {
        programID,
        eventName: name,
        payloadDescriptors: [{ payloadType: 'IMPORT_CAPACITY_LIMIT', units: 'KW' }],
        intervalPeriod: { start: new Date(Date.now() - 1000).toISOString(), duration: 'PT1H' },
        intervals: [
          { id: 0, payloads: [{ type: 'IMPORT_CAPACITY_LIMIT', values: [(k % 2 === 0 ? LOW_W : HIGH_W) / 1000] }] },
        ],
      };
      const t0 = performance.now();
      // The first trial creates the event, the others change it (a VTN updating its event).
      if (eventId === undefined) eventId = vtn.createEvent(event).id;
      else vtn.updateEvent(eventId, event);
      const r = await rig.waitDispatched(name, o.timeoutMs);
      out.push(r.at - t0);
      written.push(r.written);
      rig.follow();
      await sleep(o.gapMs);
    }
  } finally {
    await ven.stop();
    await callbackHost.close();
    await rig.close();
    await vtn.stop();
  }
  return stats(out, written);
}

export async function benchGrid(opts: GridBenchOptions = {}): Promise<GridBenchResult> {
  const o: Required<GridBenchOptions> = {
    chargers: opts.chargers ?? 200,
    trials: opts.trials ?? 100,
    gapMs: opts.gapMs ?? 80,
    timeoutMs: opts.timeoutMs ?? 5000,
  };
  const simple = await simpleSignals(o);
  const openadr = await openAdrEvents(o);
  const rig = makeRig(o.chargers);
  const rounds: number[] = [];
  try {
    for (let i = 0; i < 60; i++) {
      const t0 = performance.now();
      rig.core.loop.runRound('manual');
      // The first rounds warm up the JIT; they are not what a signal meets.
      if (i >= 10) rounds.push(performance.now() - t0);
      await rig.core.dispatcher.idle();
    }
  } finally {
    await rig.close();
  }
  return {
    chargers: o.chargers,
    trials: o.trials,
    simple,
    openadr,
    roundBaseline: { p50: percentile(rounds, 50), p99: percentile(rounds, 99) },
  };
}

/** `npm run bench` entry. */
export async function run(): Promise<BenchResult[]> {
  const r = await benchGrid();
  const target = 'p99 <= 200 ms';
  return [
    {
      name: `simple signal -> set-points p50 (${r.chargers} chargers)`,
      value: r.simple.p50,
      unit: 'ms',
      baseline: r.roundBaseline.p50,
      notes: `baseline: one control round alone; ${r.simple.writtenPerSignal.toFixed(0)} set-points written per signal`,
    },
    {
      name: `simple signal -> set-points p99 (${r.chargers} chargers)`,
      value: r.simple.p99,
      unit: 'ms',
      baseline: r.roundBaseline.p99,
      target,
      met: r.simple.p99 <= 200,
    },
    { name: `OpenADR event -> set-points p50 (${r.chargers} chargers)`, value: r.openadr.p50, unit: 'ms' },
    {
      name: `OpenADR event -> set-points p99 (${r.chargers} chargers)`,
      value: r.openadr.p99,
      unit: 'ms',
      target,
      met: r.openadr.p99 <= 200,
      notes: `VTN sim update -> subscription callback -> VEN poll over HTTP -> loop -> sinks; ${r.openadr.writtenPerSignal.toFixed(0)} set-points written per event`,
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchGrid({ trials: Number(process.argv[2] ?? 100) }).then(
    (r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`),
    (err) => {
      process.stderr.write(`${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
