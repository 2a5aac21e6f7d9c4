import { createOpenAdrVen, type OpenAdrVen } from '../../adapters/openadr/ven.js';
import { createCore } from '../../src/cli/core.js';
import { validateConfig } from '../../src/config/load.js';
import type { GatewayConfigInput } from '../../src/config/schema.js';
import { OpenAdrSchema } from '../../src/config/sections/grid.js';
import { gridPolicies } from '../../src/grid/index.js';
import { siteMeasurements } from '../../src/grid/measurements.js';
import { createGridService, type GridService } from '../../src/grid/service.js';
import type { VppVehicle } from '../../policies/vpp-dispatch.js';
import { VirtualClock } from '../../src/model/clock.js';
import { reading } from '../../src/model/reading.js';
import { silentLogger } from '../../src/util/logger.js';
import { SitePhysics } from '../site/physics.js';
import { createRng } from '../site/rng.js';
import { SimVehicle } from '../site/vehicle.js';
import { createVtnSim } from './vtn.js';

/**
 * `dr-day`: a depot afternoon and evening on a virtual clock with the real
 * core, the real OpenADR VEN and the VTN simulator over HTTP: hourly price
 * events, an import-capacity limit in the evening peak, a dispatch (export)
 * set-point served by the battery first and then by the V2G vehicles, a VTN
 * outage with a known event running through it. The same day runs twice: gridkeeper (grid-tier policies
 * bound) and the in-run baseline (contract load management only).
 */
export interface DrDayOptions {
  readonly seed?: number;
  /** Virtual seconds between VEN polls (the VTN is real HTTP). */
  readonly pollEveryS?: number;
}

export interface DrDayKpis {
  readonly name: string;
  /** Share of event seconds (after the response grace) in which the site met the signal. */
  readonly drCompliancePct: number;
  readonly responseSeconds: { readonly p50: number; readonly p99: number };
  readonly deadlinesTotal: number;
  readonly deadlinesFeasible: number;
  readonly deadlinesMissed: number;
  readonly costEur: number;
  readonly v2gEnergyKwh: number;
  readonly batteryDischargeKwh: number;
  readonly peakImportKw: number;
  readonly reportsReceivedByVtn: number;
  readonly events: ReadonlyArray<{
    id: string;
    kind: string;
    compliancePct: number | null;
    responseSeconds: number | null;
  }>;
}

export interface DrDayResult {
  readonly scenario: 'dr-day';
  readonly seed: number;
  readonly controllers: readonly DrDayKpis[];
  readonly vehicles: { readonly count: number; readonly responseDelayMs: { min: number; max: number } };
  readonly wallMs: number;
}

const DAY = Date.UTC(2026, 0, 5);
const H = 3_600_000;
const START = DAY + 14 * H;
const END = DAY + 23 * H;
const CHARGERS = 6;
/** The first chargers are bidirectional (OCPP 2.1 / V2G), their vehicles allow discharging. */
const V2G_CHARGERS = 2;
const V2G_RESPONSE_MS = 1000;
const EV_CAPACITY_WH = 75_000;
const EV_NEEDED_WH = 40_000;

function configInput(): GatewayConfigInput {
  return {
    site: { id: 'dr-day', limitW: 80_000, failsafeLimitW: 30_000, gridStaleAfterMs: 5000, staleAfterMs: 10_000 },
    store: { path: ':memory:' },
    control: { intervalMs: 1000 },
    grid: {
      marginW: 1000,
      floorPerDeviceW: 4200,
      responseGraceMs: 7000,
      complianceToleranceW: 300,
      fallback: { importLimitW: 50_000, sourceTimeoutMs: 60_000 },
      vpp: {
        rampWPerS: 25_000,
        v2gMinSocPct: 30,
        battery: {
          id: 'bat',
          capacityWh: 100_000,
          maxChargeW: 50_000,
          maxDischargeW: 50_000,
          minSocPct: 20,
          maxSocPct: 95,
        },
      },
      tariff: {
        currency: 'EUR',
        components: [
          { name: 'energy', dynamic: true, defaultPerKwh: 0.25 },
          { name: 'grid fee', kind: 'gridFee', defaultPerKwh: 0.08 },
        ],
      },
    },
  };
}

async function runController(name: 'gridkeeper' | 'baseline', seed: number, pollEveryS: number): Promise<DrDayKpis> {
  const clock = new VirtualClock(START);
  const rng = createRng(seed);
  const vtn = createVtnSim({ clock, programs: [{ programName: 'depot-dr' }] });
  await vtn.start();
  const programID = [...vtn.programs.values()][0]?.id ?? '';
  const r = validateConfig(configInput(), {});
  if (!r.ok) throw new Error(`dr-day config invalid: ${JSON.stringify(r.errors)}`);
  const config = r.config;
  let grid: GridService | undefined;
  const vehicles: SimVehicle[] = [];
  const plugged = new Map<string, SimVehicle>();
  const departures = new Map<string, { at: number; neededWh: number; maxWh: number }>();
  // V2G: what each bidirectional vehicle feeds in (W, negative) once it has followed its set-point.
  const v2g = new Map<string, { w: number; pending: Array<[number, number]>; arrivalWh: number }>();
  let v2gWh = 0;
  const v2gVehicles = (): VppVehicle[] =>
    [...v2g].flatMap(([evseId, f]) => {
      const v = plugged.get(evseId);
      const dep = departures.get(evseId);
      if (!v || !dep) return [];
      return [
        {
          evseId,
          allowDischarge: true,
          socPct: (100 * (f.arrivalWh + v.deliveredWh)) / v.spec.capacityWh,
          capacityWh: v.spec.capacityWh,
          departureAt: dep.at,
          requiredWhAtDeparture: f.arrivalWh + dep.neededWh,
          maxDischargeW: 11_000,
        },
      ];
    });
  const core = createCore(config, {
    clock,
    log: silentLogger(),
    defaultMetrics: false,
    ...(name === 'gridkeeper' ? { policies: gridPolicies(config, () => grid, { vehicles: v2gVehicles }) } : {}),
  });
  grid = createGridService(config, { clock, log: core.log, metrics: core.metrics, bus: core.bus });
  grid.store.onChange(() => core.loop.notifyChange());
  const physics = new SitePhysics({ clock, seed, baseLoadW: 10_000, baseLoadNoiseW: 800, pvPeakW: 0 });

  // Battery: follows its set-point at once, within SoC.
  const bat = { socPct: 60, powerW: 0, setW: 0, dischargedWh: 0 };
  core.dispatcher.registerSink('battery:bat', {
    applySetpoint: async (sp) => {
      bat.setW = sp.powerW;
    },
  });

  for (let i = 0; i < CHARGERS; i++) {
    const id = `CP${i + 1}`;
    const evseId = `${id}/1`;
    const arrive = START + i * 10 * 60_000;
    const depart = DAY + 22 * H + i * 5 * 60_000;
    const v = new SimVehicle(
      {
        id: `EV${i + 1}`,
        capacityWh: EV_CAPACITY_WH,
        socPct: 20 + Math.round(rng() * 15),
        maxCurrentA: 16,
        phases: 3,
        responseDelayMs: 2000 + Math.round(rng() * 3000),
        departureAt: depart,
        neededWh: EV_NEEDED_WH,
        bidirectional: i < V2G_CHARGERS,
      },
      arrive,
    );
    vehicles.push(v);
    departures.set(evseId, { at: depart, neededWh: EV_NEEDED_WH, maxWh: (16 * 3 * 230 * (depart - arrive)) / H });
    if (i < V2G_CHARGERS) v2g.set(evseId, { w: 0, pending: [], arrivalWh: (v.spec.capacityWh * v.spec.socPct) / 100 });
    core.dispatcher.registerSink(id, {
      applySetpoint: async (sp) => {
        const car = plugged.get(sp.evseId);
        if (!car) return;
        const feed = v2g.get(sp.evseId);
        // A V2G unit takes the signed W set-point (OCPP 2.1 discharge limit / Modbus signed W) in about a second.
        if (feed) feed.pending.push([clock.now() + V2G_RESPONSE_MS, Math.min(0, sp.powerW)]);
        car.offer(Math.max(0, sp.currentA), clock.now());
      },
    });
  }

  const ven: OpenAdrVen = createOpenAdrVen(
    OpenAdrSchema.parse({
      enabled: true,
      vtnUrl: vtn.url,
      clientId: 'ven-client',
      clientSecret: 'ven-secret',
      venName: `depot-${name}`,
      programNames: ['depot-dr'],
      resources: ['bat', 'v2g'],
      pollIntervalMs: 24 * H,
      reportIntervalMs: 24 * H,
    }),
    {
      clock,
      log: silentLogger(),
      metrics: core.metrics,
      store: grid.store,
      measurements: () =>
        siteMeasurements(core.state.snapshot(), {
          staleAfterMs: 10_000,
          batteryId: 'bat',
          batteryMaxDischargeW: 50_000,
        }),
    },
  );

  const iso = (t: number) => new Date(t).toISOString();
  const event = (
    eventName: string,
    type: string,
    start: number,
    durationMin: number,
    values: number[],
    units = 'KW',
  ) => ({
    programID,
    eventName,
    payloadDescriptors: [{ payloadType: type, units, ...(type === 'PRICE' ? { currency: 'EUR' } : {}) }],
    intervalPeriod: { start: iso(start), duration: `PT${durationMin}M` },
    intervals: values.map((v, i) => ({ id: i, payloads: [{ type, values: [v] }] })),
  });
  // Day-ahead prices per hour from 14:00 (EUR/kWh energy component).
  vtn.createEvent(
    event('prices', 'PRICE', START, 60, [0.22, 0.24, 0.3, 0.42, 0.45, 0.38, 0.3, 0.18, 0.15, 0.14], 'KWH'),
  );
  vtn.createEvent(event('evening-peak', 'IMPORT_CAPACITY_LIMIT', DAY + 17 * H, 120, [40]));
  vtn.createEvent(event('dispatch', 'DISPATCH_SETPOINT', DAY + 19 * H + 15 * 60_000, 30, [-20]));

  core.start();
  grid.start();
  await ven.start();
  await ven.pollNow();
  core.bus.emit('battery', { powerW: reading(0, clock.now(), 'bat'), socPct: reading(bat.socPct, clock.now(), 'bat') });

  let costEur = 0;
  let peakW = 0;
  let lastReport = START;
  const delivered = new Map<string, number>();
  try {
    for (let t = START; t < END; t += 1000) {
      const now = t + 1000;
      // Arrivals and departures.
      for (let i = 0; i < CHARGERS; i++) {
        const v = vehicles[i] as SimVehicle;
        const evseId = `CP${i + 1}/1`;
        const dep = departures.get(evseId);
        const arriveAt = START + i * 10 * 60_000;
        if (!plugged.has(evseId) && now >= arriveAt && dep && now < dep.at && !delivered.has(evseId)) {
          if (now - arriveAt <= 1000) {
            core.bus.emit('evse.spec', {
              id: evseId,
              chargerId: `CP${i + 1}`,
              connectorId: 1,
              protocol: 'sim',
              circuitId: 'site',
              phaseRotation: 'L1L2L3',
              phases: 3,
              minCurrentA: 6,
              maxCurrentA: 16,
              voltageV: 230,
              bidirectional: v2g.has(evseId),
              priority: 0,
            });
            core.bus.emit('evse.live', { id: evseId, patch: { status: 'Charging', sessionStart: now } });
            plugged.set(evseId, v);
          }
        }
        if (plugged.has(evseId) && dep && now >= dep.at) {
          delivered.set(evseId, v.deliveredWh);
          plugged.delete(evseId);
          v2g.delete(evseId);
          physics.removeLoad(evseId);
          core.bus.emit('evse.live', { id: evseId, patch: { status: 'Available', powerW: reading(0, now, evseId) } });
        }
      }
      // Scripted grid events that happen mid-day.
      if (now === DAY + 19 * H + 50 * 60_000)
        vtn.createEvent(event('late-limit', 'IMPORT_CAPACITY_LIMIT', DAY + 20 * H + 15 * 60_000, 30, [35]));
      if (now === DAY + 20 * H) vtn.setOutage(503);
      if (now === DAY + 21 * H) vtn.setOutage(null);

      clock.advance(1000);
      await core.dispatcher.idle();
      // Devices: vehicles follow their offers after their delay; the battery follows at once within SoC.
      for (const [evseId, v] of plugged) {
        let a = v.step(now, 230);
        let w = v.powerW(230);
        let phaseA = v.phaseCurrents();
        const feed = v2g.get(evseId);
        if (feed) {
          while ((feed.pending[0]?.[0] ?? Number.POSITIVE_INFINITY) <= now)
            feed.w = (feed.pending.shift() as [number, number])[1];
          if (feed.w < 0) {
            // Fed-in energy leaves the vehicle: it counts against what it must have by departure.
            v.deliveredWh += (feed.w * 1000) / H;
            v2gWh += (-feed.w * 1000) / H;
            w += feed.w;
            a = Math.max(a, -feed.w / (3 * 230));
            phaseA = [a, a, a];
          }
        }
        physics.setLoad(evseId, w, phaseA);
        core.bus.emit('evse.live', {
          id: evseId,
          patch: {
            status: v.full ? 'SuspendedEV' : 'Charging',
            powerW: reading(w, now, evseId),
            currentsA: reading([a, a, a] as const, now, evseId),
            sessionEnergyWh: v.deliveredWh,
          },
        });
      }
      let bw = bat.setW;
      if (bw < 0 && bat.socPct <= 20) bw = 0;
      if (bw > 0 && bat.socPct >= 95) bw = 0;
      bat.powerW = bw;
      bat.socPct += (bw / 3600 / 100_000) * 100;
      if (bw < 0) bat.dischargedWh += -bw / 3600;
      physics.setLoad('battery', bw);
      core.bus.emit('battery', { powerW: reading(bw, now, 'bat'), socPct: reading(bat.socPct, now, 'bat') });
      const g = physics.gridPowerW();
      core.bus.emit('grid', { powerW: reading(g, now, 'meter') });
      peakW = Math.max(peakW, g);
      costEur +=
        (g / 1000) *
        (1 / 3600) *
        (g >= 0 ? grid.tariff.priceAt(now).importPerKwh : grid.tariff.priceAt(now).exportPerKwh);

      if ((now - START) % (pollEveryS * 1000) === 0) await ven.pollNow();
      if (now - lastReport >= 60_000) {
        lastReport = now;
        await ven.reportNow();
      }
    }
  } finally {
    await ven.stop();
    grid.stop();
    core.loop.stop();
    await core.dispatcher.idle();
    core.stop();
    await vtn.stop();
  }

  let feasible = 0;
  let missed = 0;
  for (const [evseId, dep] of departures) {
    const got = delivered.get(evseId) ?? 0;
    const isFeasible = dep.neededWh <= dep.maxWh;
    if (isFeasible) feasible++;
    if (isFeasible && got + 1 < dep.neededWh) missed++;
  }
  const events = grid.events();
  const limits = events.filter((e) => e.kind !== 'PRICE');
  let observed = 0;
  let compliant = 0;
  const responses: number[] = [];
  for (const e of limits) {
    observed += Number(e.detail?.['observedSeconds'] ?? 0);
    compliant += Number(e.detail?.['compliantSeconds'] ?? 0);
    const rs = e.detail?.['responseSeconds'];
    if (typeof rs === 'number') responses.push(rs);
  }
  responses.sort((a, b) => a - b);
  const pct = (p: number) =>
    responses.length === 0
      ? Number.NaN
      : (responses[Math.min(responses.length - 1, Math.ceil((p / 100) * responses.length) - 1)] as number);
  return {
    name,
    drCompliancePct: observed > 0 ? Math.round((1000 * compliant) / observed) / 10 : 100,
    responseSeconds: { p50: pct(50), p99: pct(99) },
    deadlinesTotal: departures.size,
    deadlinesFeasible: feasible,
    deadlinesMissed: missed,
    costEur: Math.round(costEur * 100) / 100,
    v2gEnergyKwh: Math.round(v2gWh / 100) / 10,
    batteryDischargeKwh: Math.round(bat.dischargedWh / 100) / 10,
    peakImportKw: Math.round(peakW / 100) / 10,
    reportsReceivedByVtn: vtn.reports.length,
    events: limits.map((e) => ({
      id: String(e.detail?.['eventName'] ?? e.id),
      kind: e.kind,
      compliancePct: (e.detail?.['compliancePct'] as number | null) ?? null,
      responseSeconds: (e.detail?.['responseSeconds'] as number | null) ?? null,
    })),
  };
}

export async function runDrDay(opts: DrDayOptions = {}): Promise<DrDayResult> {
  const seed = opts.seed ?? 1;
  const started = performance.now();
  const pollEveryS = opts.pollEveryS ?? 10;
  const gk = await runController('gridkeeper', seed, pollEveryS);
  const base = await runController('baseline', seed, pollEveryS);
  return {
    scenario: 'dr-day',
    seed,
    controllers: [gk, base],
    vehicles: { count: CHARGERS, responseDelayMs: { min: 2000, max: 5000 } },
    wallMs: Math.round(performance.now() - started),
  };
}

// `npx tsx sim/utility/dr-day.ts [seed]` prints the KPIs as JSON (the scenario runner's `--json` shape for dr-day).
if (import.meta.url === `file://${process.argv[1]}`) {
  runDrDay({ seed: Number(process.argv[2] ?? 1) }).then(
    (r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`),
    (err) => {
      process.stderr.write(`${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
