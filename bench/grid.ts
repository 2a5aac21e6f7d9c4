/**
 * Grid signal → set-points dispatched, at 200 chargers: the time from a
 * simple DR signal (the HTTP/MQTT handler) or an OpenADR event (VTN
 * simulator → subscription callback → VEN poll) until every charger's sink
 * has received a set-point naming the event. In-process core (createCore)
 * on the system clock with an immediate sink per charger, the real control
 * loop, arbiter and default allocator. Baseline in the same run: a plain
 * control round (`loop.runRound`) without a signal.
 */
import { performance } from 'node:perf_hooks';
import { createOpenAdrVen } from '../adapters/openadr/ven.js';
import { type Core, createCore } from '../src/cli/core.js';
import { validateConfig } from '../src/config/load.js';
import { OpenAdrSchema } from '../src/config/sections/grid.js';
import { gridPolicies } from '../src/grid/index.js';
import { createGridService, type GridService } from '../src/grid/service.js';
import { SystemClock } from '../src/model/clock.js';
import { reading } from '../src/model/reading.js';
import { silentLogger } from '../src/util/logger.js';
import { createVtnSim } from '../sim/utility/vtn.js';
import { type BenchResult, percentile } from './types.js';

export interface GridBenchOptions {
  readonly chargers?: number;
  /** Signals per measurement (each lowers the limit a step so every set-point changes). */
  readonly trials?: number;
  /** Pause between signals, ms (longer than the loop's coalescing window). */
  readonly gapMs?: number;
  readonly timeoutMs?: number;
}

export interface GridBenchResult {
  readonly chargers: number;
  readonly trials: number;
  /** Simple signal → all set-points dispatched, ms. */
  readonly simple: { p50: number; p99: number; max: number };
  /** OpenADR event created on the VTN → all set-points dispatched, ms. */
  readonly openadr: { p50: number; p99: number; max: number };
  /** One control round on its own (decide + allocate + dispatch), ms. */
  readonly roundBaseline: { p50: number; p99: number };
}

// New sessions start at 10 A and ramp up slowly; starting below 10 A per charger means every step down
// changes every set-point at once (40 kW over 200 chargers is 0.29 A each, well above the 0.1 A write threshold).
const STEP_W = 40_000;
const topW = (chargers: number) => chargers * 9.8 * 3 * 230 + 20_000;

interface Rig {
  core: Core;
  grid: GridService;
  /** Resolves once every charger got a set-point whose reasons mention `tag`. */
  waitAll(tag: string, timeoutMs: number): Promise<number>;
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
      // The VEN starts in safe mode until its first poll; a high fallback keeps that from ramping the sessions down.
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
  let waiting: { tag: string; seen: Set<string>; resolve: (t: number) => void } | undefined;
  for (let i = 0; i < chargers; i++) {
    const id = `CP${String(i).padStart(3, '0')}`;
    core.dispatcher.registerSink(id, {
      applySetpoint: async (sp) => {
        const w = waiting;
        if (w && sp.reasons.some((x) => x.text.includes(w.tag))) {
          w.seen.add(sp.evseId);
          if (w.seen.size === chargers) {
            waiting = undefined;
            w.resolve(performance.now());
          }
        }
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
  return {
    core,
    grid,
    waitAll(tag, timeoutMs) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          const seen = waiting?.seen.size ?? 0;
          waiting = undefined;
          const sp = core.dispatcher.current('CP000/1');
          reject(
            new Error(
              `timeout waiting for set-points of ${tag} (${seen}/${chargers}; CP000/1 at ${sp?.currentA} A: ${sp?.reasons[0]?.text})`,
            ),
          );
        }, timeoutMs);
        waiting = {
          tag,
          seen: new Set(),
          resolve: (at) => {
            clearTimeout(t);
            resolve(at);
          },
        };
      });
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

function stats(xs: number[]) {
  return { p50: percentile(xs, 50), p99: percentile(xs, 99), max: Math.max(...xs) };
}

/** Simple signals: a fresh rig per sweep of decreasing limits (decreases are always written at once). */
async function simpleSignals(o: Required<GridBenchOptions>): Promise<number[]> {
  const out: number[] = [];
  const top = topW(o.chargers);
  const perSweep = Math.floor((top - 20_000 - o.chargers * 6 * 3 * 230) / STEP_W) - 1;
  while (out.length < o.trials) {
    const rig = makeRig(o.chargers);
    try {
      await sleep(o.gapMs);
      for (let k = 0; k < perSweep && out.length < o.trials; k++) {
        const id = `bench-${out.length}`;
        const wait = rig.waitAll(id, o.timeoutMs);
        const t0 = performance.now();
        const res = rig.grid.applySimpleSignal({
          importLimitW: top - k * STEP_W,
          until: Date.now() + 600_000,
          id,
        });
        if (!res.ok) throw new Error(JSON.stringify(res.errors));
        out.push((await wait) - t0);
        rig.core.bus.emit('grid', { powerW: reading(20_000, Date.now(), 'meter') });
        await sleep(o.gapMs);
      }
    } finally {
      await rig.close();
    }
  }
  return out;
}

/** OpenADR: event POSTed on the VTN sim → notification → VEN poll → store → loop → sinks. */
async function openAdrEvents(o: Required<GridBenchOptions>): Promise<number[]> {
  const out: number[] = [];
  const clock = new SystemClock();
  const vtn = createVtnSim({ clock, programs: [{ programName: 'bench' }] });
  await vtn.start();
  const programID = [...vtn.programs.values()][0]?.id ?? '';
  try {
    const top = topW(o.chargers);
    const perSweep = Math.floor((top - 20_000 - o.chargers * 6 * 3 * 230) / STEP_W) - 1;
    while (out.length < o.trials) {
      const rig = makeRig(o.chargers);
      const ven = createOpenAdrVen(
        OpenAdrSchema.parse({
          enabled: true,
          vtnUrl: vtn.url,
          clientId: 'ven-client',
          clientSecret: 'ven-secret',
          venName: `bench-${out.length}`,
          programNames: ['bench'],
          pollIntervalMs: 600_000,
          reportIntervalMs: 600_000,
          callbackPort: 0,
          callbackHost: '127.0.0.1',
        }),
        { clock, log: silentLogger(), metrics: rig.core.metrics, store: rig.grid.store, measurements: () => ({}) },
      );
      try {
        await ven.start();
        await ven.pollNow();
        for (const e of [...vtn.events.keys()]) vtn.deleteEvent(e);
        await sleep(o.gapMs);
        let eventId: string | undefined;
        for (let k = 0; k < perSweep && out.length < o.trials; k++) {
          const name = `adr-${out.length}`;
          const wait = rig.waitAll(name, o.timeoutMs);
          const t0 = performance.now();
          const event = {
            programID,
            eventName: name,
            payloadDescriptors: [{ payloadType: 'IMPORT_CAPACITY_LIMIT', units: 'KW' }],
            intervalPeriod: { start: new Date(Date.now() - 1000).toISOString(), duration: 'PT1H' },
            intervals: [{ id: 0, payloads: [{ type: 'IMPORT_CAPACITY_LIMIT', values: [(top - k * STEP_W) / 1000] }] }],
          };
          // The first trial of a sweep creates the event, the others tighten it (a VTN updating its event).
          if (eventId === undefined) eventId = vtn.createEvent(event).id;
          else vtn.updateEvent(eventId, event);
          out.push((await wait) - t0);
          rig.core.bus.emit('grid', { powerW: reading(20_000, Date.now(), 'meter') });
          await sleep(o.gapMs);
        }
      } finally {
        await ven.stop();
        for (const e of [...vtn.events.keys()]) vtn.deleteEvent(e);
        await rig.close();
      }
    }
  } finally {
    await vtn.stop();
  }
  return out;
}

export async function benchGrid(opts: GridBenchOptions = {}): Promise<GridBenchResult> {
  const o: Required<GridBenchOptions> = {
    chargers: opts.chargers ?? 200,
    trials: opts.trials ?? 100,
    gapMs: opts.gapMs ?? 80,
    timeoutMs: opts.timeoutMs ?? 5000,
  };
  const simple = await simpleSignals(o);
  const adr = await openAdrEvents(o);
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
    simple: stats(simple),
    openadr: stats(adr),
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
      notes: 'baseline: one control round alone',
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
      notes: 'VTN sim POST -> subscription callback -> VEN poll over HTTP -> loop -> sinks',
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
