import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { MqttAdapter } from '../../adapters/mqtt/index.js';
import { CmsSim } from '../../sim/cloud/cms.js';
import { createModbusDemo } from '../../sim/devices/modbus/demo.js';
import { buildingLoadDeviceConfig, startBuildingLoadSim } from '../../sim/devices/mqtt/building-load.js';
import { SimCharger } from '../../sim/devices/ocpp/charger.js';
import type { BmsServer } from '../../sim/devices/opcua/bms-server.js';
import { DemoTraffic } from '../../sim/site/demo-traffic.js';
import { SitePhysics } from '../../sim/site/physics.js';
import { createUtilityDemo, type UtilityDemo } from '../../sim/utility/demo.js';
import { formatErrors, validateConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';
import { type Clock, SystemClock } from '../model/clock.js';
import type { Logger } from '../util/logger.js';
import { createGateway, type Gateway } from './compose.js';
import { cliLogger, defaultLogFormat, type LogFormat } from './log-format.js';
import { describeSun, sunOffsetMs } from './demo-sun.js';
import { type Listener, StartupError } from './startup.js';

export { sunOffsetMs } from './demo-sun.js';

export interface DemoOptions {
  readonly config: string;
  readonly httpPort: number;
  readonly ocppPort: number;
  readonly cmsPort: number;
  readonly meterPort: number;
  readonly pvPort: number;
  /** SunSpec battery (models 1 + 124 + 802). */
  readonly batteryPort: number;
  /** Ports of the three Modbus chargers start here (+0, +1, +2). */
  readonly modbusChargerPort: number;
  readonly mqttPort: number;
  readonly opcuaPort: number;
  readonly vtnPort: number;
  readonly oscpPort: number;
  readonly upstreamUrl?: string;
  readonly vtnUrl?: string;
  readonly chargers: number;
  readonly dataDir: string;
  /** Skip the OPC UA BMS (it is the slowest part to start). */
  readonly opcua: boolean;
  /** Listen address of the gateway's HTTP API and OCPP server (the simulators stay on 127.0.0.1). */
  readonly host?: string;
  /** `pretty` (a terminal's default) or `json`. */
  readonly logFormat?: LogFormat;
  /**
   * Where the simulated sun stands when the demo starts, `HH:MM` solar time
   * (UTC-based), so the demo shows PV at any hour; `clock` follows the wall clock.
   */
  readonly sunTime?: string;
}

/** The ports the demo will listen on, with the flag that changes each (checked before anything starts). */
export function demoListeners(options: Partial<DemoOptions>): Listener[] {
  const o = { ...DEMO_DEFAULTS, ...options };
  const host = o.host ?? '127.0.0.1';
  const sim = (port: number, what: string, change: string): Listener => ({ port, host: '127.0.0.1', what, change });
  const out: Listener[] = [
    { port: o.httpPort, host, what: 'HTTP API + dashboard', change: '--http-port' },
    { port: o.ocppPort, host, what: 'OCPP server', change: '--ocpp-port' },
    sim(o.meterPort, 'simulated grid meter', '--meter-port'),
    sim(o.pvPort, 'simulated PV inverter', '--pv-port'),
    sim(o.batteryPort, 'simulated battery', '--battery-port'),
    sim(o.mqttPort, 'embedded MQTT broker', '--mqtt-port'),
    sim(o.vtnPort, 'simulated OpenADR VTN', '--vtn-port'),
    sim(o.oscpPort, 'simulated OSCP capacity provider', '--oscp-port'),
  ];
  if (o.modbusChargerPort !== 0) {
    for (let i = 0; i < 3; i++) {
      out.push(
        sim(
          o.modbusChargerPort + i,
          `simulated Modbus charger ${i + 1}`,
          '--modbus-charger-port (uses it and the next two)',
        ),
      );
    }
  }
  if (!o.upstreamUrl) out.push(sim(o.cmsPort, 'simulated cloud CMS', '--cms-port'));
  if (o.opcua) out.push(sim(o.opcuaPort, 'simulated OPC UA BMS', '--opcua-port (or leave out --opcua)'));
  return out;
}

export interface DemoDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clock?: Clock;
  readonly log?: Logger;
}

interface Part {
  readonly name: string;
  where?: () => string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

export interface Demo {
  readonly gateway: Gateway;
  readonly physics: SitePhysics;
  readonly config: GatewayConfig;
  readonly cms: CmsSim | undefined;
  /** The simulated utility (VTN + OSCP capacity provider). */
  readonly utility: UtilityDemo;
  readonly chargers: readonly SimCharger[];
  /** Human-readable list of what runs where. */
  describe(): string;
  stop(): Promise<void>;
}

export const DEMO_DEFAULTS: DemoOptions = {
  config: 'config/demo.yaml',
  httpPort: 8080,
  ocppPort: 9000,
  cmsPort: 9100,
  meterPort: 5020,
  pvPort: 5021,
  batteryPort: 5022,
  modbusChargerPort: 5023,
  mqttPort: 1883,
  opcuaPort: 4840,
  vtnPort: 8081,
  oscpPort: 8082,
  chargers: 4,
  dataDir: 'data',
  opcua: true,
};

/** Every demo port set to 0 (any free port): tests and benchmarks run beside a live demo. */
export const DEMO_ANY_PORTS = {
  httpPort: 0,
  ocppPort: 0,
  cmsPort: 0,
  meterPort: 0,
  pvPort: 0,
  batteryPort: 0,
  modbusChargerPort: 0,
  mqttPort: 0,
  opcuaPort: 0,
  vtnPort: 0,
  oscpPort: 0,
} as const satisfies Partial<DemoOptions>;

type Raw = Record<string, unknown> & {
  site?: Record<string, unknown>;
  ocpp?: Record<string, unknown>;
  grid?: Record<string, unknown>;
};

/**
 * Start the simulated depot and the gateway: site physics, device and cloud
 * simulators speaking their real protocols on 127.0.0.1, then the gateway
 * configured to talk to them, then the vehicles. Stops everything in
 * reverse order.
 */
export async function startDemo(options: Partial<DemoOptions>, deps: DemoDeps): Promise<Demo> {
  const opts = { ...DEMO_DEFAULTS, ...options };
  const env = deps.env;
  const raw = (parseDocument(readFileSync(resolve(opts.config), 'utf8')).toJS() ?? {}) as Raw;
  const clock = deps.clock ?? new SystemClock();
  const logFormat = opts.logFormat ?? defaultLogFormat(process.stdout.isTTY);
  const preLog = deps.log ?? cliLogger({ level: 'info', format: logFormat });
  const started: Part[] = [];
  const stopAll = async () => {
    for (const p of started.splice(0).reverse()) {
      try {
        await p.stop();
      } catch (err) {
        preLog.error({ part: p.name, err }, 'error while stopping');
      }
    }
  };
  const run = async (p: Part) => {
    const t0 = performance.now();
    await p.start();
    started.push(p);
    // Start-up time per part, for `--log-level debug` style profiling of `npm start`.
    preLog.debug({ part: p.name, ms: Math.round(performance.now() - t0) }, 'demo part started');
    return p;
  };

  try {
    const sunOffset = sunOffsetMs(opts.sunTime, clock.now());
    const physics = new SitePhysics({
      clock,
      seed: 42,
      baseLoadW: 9000,
      baseLoadNoiseW: 800,
      pvPeakW: 15000,
      sunOffsetMs: sunOffset,
    });
    await run({ name: 'site physics', start: () => physics.start(), stop: () => physics.stop() });

    let cms: CmsSim | undefined;
    if (!opts.upstreamUrl) {
      const sim = new CmsSim({ clock, port: opts.cmsPort });
      cms = sim;
      await run({ name: 'cloud CMS (sim)', where: () => sim.url, start: () => sim.start(), stop: () => sim.stop() });
    }

    const modbus = createModbusDemo({
      clock,
      physics,
      meterPort: opts.meterPort,
      pvPort: opts.pvPort,
      // A second battery unit besides the OPC UA BMS: monitored, aggregated into the site battery.
      batteryPort: opts.batteryPort,
      // Port 0 means "any free port" for each of the three, not 0, 1 and 2.
      chargerPorts:
        opts.modbusChargerPort === 0
          ? [0, 0, 0]
          : [opts.modbusChargerPort, opts.modbusChargerPort + 1, opts.modbusChargerPort + 2],
    });
    for (const p of modbus.parts)
      await run({ name: p.name, where: () => p.where, start: () => p.start(), stop: () => p.stop() });

    // The OPC UA BMS: node-opcua is imported only when it is wanted (it takes seconds).
    let bms: BmsServer | undefined;
    if (opts.opcua) {
      await run({
        name: 'battery BMS (OPC UA)',
        where: () => (bms ? `opc.tcp://127.0.0.1:${bms.port}` : ''),
        start: async () => {
          const m = await import('../../sim/devices/opcua/bms-server.js');
          // Like a real battery system: it answers a write at once, moves a second later, 20 kW/s.
          bms = await m.startBmsServer({
            clock,
            port: opts.opcuaPort,
            physics,
            initialSocPct: 55,
            responseDelayMs: 1000,
            rampWPerS: 20_000,
            stepMs: 250,
          });
        },
        stop: () => bms?.stop(),
      });
    }

    // The utility side: an OpenADR 3 VTN with a repeating DR script and an
    // OSCP capacity provider (the DSO). With --vtn-url the VEN talks to an
    // external VTN instead, with credentials from the environment.
    const utility = createUtilityDemo({
      clock,
      siteLimitW: Number(raw.site?.limitW ?? 40_000),
      vtnPort: opts.vtnPort,
      cpPort: opts.oscpPort,
    });
    await run({
      name: 'OpenADR 3 VTN + OSCP (sims)',
      where: () => `${utility.vtn.url} , ${utility.cp.url}`,
      start: () => utility.start(),
      stop: () => utility.stop(),
    });
    const gridSims = utility.gridConfig();
    const openadr = opts.vtnUrl
      ? {
          ...gridSims.openadr,
          vtnUrl: opts.vtnUrl,
          clientId: env.GRIDKEEPER_VTN_CLIENT_ID,
          clientSecret: env.GRIDKEEPER_VTN_CLIENT_SECRET,
          programNames: [],
        }
      : gridSims.openadr;

    // The demo's config: the YAML plus where the simulators listen.
    const grid = raw.grid ?? {};
    // Without the OPC UA BMS the SunSpec battery is the one the battery and VPP policies steer
    // (otherwise they would ask a battery that is not there, and the demo's battery would sit idle).
    const steered = bms ? undefined : 'battery';
    const control = raw.control as { policies?: { battery?: Record<string, unknown> } } | undefined;
    const vpp = grid.vpp as { battery?: Record<string, unknown> } | undefined;
    const patched = {
      ...raw,
      api: { ...(raw.api as object), port: opts.httpPort, ...(opts.host ? { host: opts.host } : {}) },
      ocpp: {
        ...raw.ocpp,
        port: opts.ocppPort,
        ...(opts.host ? { host: opts.host } : {}),
        upstream: { ...(raw.ocpp?.upstream as object), url: opts.upstreamUrl ?? cms?.url },
      },
      store: { ...(raw.store as object), path: join(opts.dataDir, 'demo.db') },
      modbus: { devices: modbus.devices() },
      // The YAML's BMS entry (the simulator's node ids) pointed at the port the simulator listens on.
      opcua: {
        devices: bms
          ? ((raw.opcua as { devices?: Array<Record<string, unknown>> } | undefined)?.devices ?? []).map((d) => ({
              ...d,
              endpoint: `opc.tcp://127.0.0.1:${bms?.port ?? opts.opcuaPort}`,
            }))
          : [],
      },
      mqtt: {
        ...(raw.mqtt as object),
        enabled: true,
        broker: 'embedded',
        port: opts.mqttPort,
        devices: [buildingLoadDeviceConfig()],
      },
      ...(steered && control?.policies?.battery
        ? {
            control: {
              ...control,
              policies: { ...control.policies, battery: { ...control.policies.battery, id: steered } },
            },
          }
        : {}),
      grid: {
        ...grid,
        ...(steered && vpp?.battery ? { vpp: { ...vpp, battery: { ...vpp.battery, id: steered } } } : {}),
        openadr: { ...(grid.openadr as object), ...openadr },
        oscp: { ...(grid.oscp as object), ...gridSims.oscp },
      },
    };
    const composing = performance.now();
    const validated = validateConfig(patched, env);
    if (!validated.ok) {
      throw new StartupError(`${opts.config}: invalid demo configuration\n${formatErrors(validated.errors)}`, 2);
    }
    const config = validated.config;
    const log = deps.log ?? cliLogger({ level: config.log.level, format: logFormat });

    const gateway = createGateway(config, { clock, log, env });
    preLog.debug({ ms: Math.round(performance.now() - composing) }, 'demo gateway configured and composed');
    await run({ name: 'gateway', start: () => gateway.start(), stop: () => gateway.stop() });

    const mqttPort = gateway.component<MqttAdapter>('mqtt')?.brokerPort ?? opts.mqttPort;
    const mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
    let building: Awaited<ReturnType<typeof startBuildingLoadSim>> | undefined;
    await run({
      name: 'building sub-meter (MQTT)',
      where: () => `${mqttUrl} topic ${building?.topic ?? ''}`,
      start: async () => {
        building = await startBuildingLoadSim({ clock, url: mqttUrl, powerW: () => physics.baseLoadW() });
      },
      stop: () => building?.stop(),
    });

    // OCPP chargers: the configured ones first, then extra ids up to --chargers.
    const configured = config.chargers.filter((c) => c.protocol === 'ocpp');
    const chargers: SimCharger[] = [];
    const ocppUrl = gateway.urls().ocpp ?? `ws://127.0.0.1:${opts.ocppPort}${config.ocpp.path}`;
    for (let i = 0; i < opts.chargers; i++) {
      const c = configured[i];
      // The last two chargers speak OCPP 2.0.1 and 2.1 (bidirectional), the others 1.6J.
      const protocol =
        i === opts.chargers - 1 && i >= 2 ? 'ocpp2.1' : i === opts.chargers - 2 && i >= 2 ? 'ocpp2.0.1' : 'ocpp1.6';
      const sim = new SimCharger({
        id: c?.id ?? `CP${String(i + 1).padStart(3, '0')}`,
        protocol,
        bidirectional: protocol === 'ocpp2.1',
        url: ocppUrl,
        clock,
        physics,
        maxCurrentA: c?.maxCurrentA ?? 32,
        phaseRotation: c?.phaseRotation ?? 'L1L2L3',
        // Configured like an installed site (every 2 s, per-phase currents), not the 60 s factory default.
        meterIntervalMs: 2000,
        sampledData: ['Energy.Active.Import.Register', 'Power.Active.Import', 'Current.Import'],
      });
      chargers.push(sim);
      await run({ name: `charger ${sim.opts.id} (${protocol})`, start: () => sim.start(), stop: () => sim.stop() });
    }
    const traffic = new DemoTraffic(
      chargers.map((c) => ({ id: c.opts.id, plugIn: (v, tag) => c.plugIn(v, tag), unplug: () => c.unplug() })),
      { clock, onError: (id, err) => log.warn({ chargerId: id, err: String(err) }, 'simulated vehicle') },
    );
    await run({ name: 'vehicle traffic', start: () => traffic.start(), stop: () => traffic.stop() });

    return {
      gateway,
      physics,
      config,
      cms,
      utility,
      chargers,
      describe() {
        const lines = [
          `gridkeeper demo running on ${opts.host ?? '127.0.0.1'} (Ctrl-C stops everything):`,
          '',
          ' gateway',
        ];
        for (const [name, url] of Object.entries(gateway.urls())) lines.push(`  ${name.padEnd(30)} ${url}`);
        lines.push('', ' simulated site');
        for (const p of started) if (p.where) lines.push(`  ${p.name.padEnd(30)} ${p.where()}`);
        lines.push(`  ${`${chargers.length} OCPP chargers`.padEnd(30)} -> ${ocppUrl}/<id>`);
        lines.push(`  ${'simulated sun'.padEnd(30)} ${describeSun(sunOffset, clock.now())}`);
        lines.push('', ` try: curl -s ${gateway.api()?.url()}/api/v1/state`);
        return lines.join('\n');
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
