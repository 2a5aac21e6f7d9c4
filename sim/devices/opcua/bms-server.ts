import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCodes,
  type UAVariable,
  Variant,
  nodesets,
} from 'node-opcua';
import type { Clock, TimerHandle } from '../../../src/model/clock.js';
import type { SitePhysics } from '../../site/physics.js';

/** String NodeIds of the simulated BMS (namespace 1, the server's own). */
export const BMS_NODES = {
  socPct: 'ns=1;s=BMS.SoC',
  sohPct: 'ns=1;s=BMS.SoH',
  powerW: 'ns=1;s=BMS.Power',
  cellTempMinC: 'ns=1;s=BMS.CellTempMin',
  cellTempMaxC: 'ns=1;s=BMS.CellTempMax',
  maxChargePowerW: 'ns=1;s=BMS.MaxChargePower',
  maxDischargePowerW: 'ns=1;s=BMS.MaxDischargePower',
  alarms: 'ns=1;s=BMS.Alarms',
  setpointW: 'ns=1;s=BMS.PowerSetpoint',
} as const;

/** Alarm bits of the simulated BMS. */
export const BMS_ALARM = { overTemperature: 1, socLow: 2, setpointLimited: 4 } as const;

export interface BmsServerOptions {
  readonly clock: Clock;
  /** 0 = any free port (read it back from `port` after start). */
  readonly port?: number;
  readonly id?: string;
  readonly physics?: SitePhysics;
  readonly capacityWh?: number;
  readonly initialSocPct?: number;
  readonly maxChargeW?: number;
  readonly maxDischargeW?: number;
  readonly stepMs?: number;
  /**
   * Time the BMS and its inverter take to start following a new set-point, ms (default 0:
   * at once). A real battery system answers a write at once and moves a second or so later.
   */
  readonly responseDelayMs?: number;
  /** How fast the power moves towards the set-point once it follows, W/s (default: a step). */
  readonly rampWPerS?: number;
  /** User name -> password; anonymous access is refused when set. */
  readonly users?: Readonly<Record<string, string>>;
  /** Where the server keeps its certificate; a shared temp dir by default so it is generated once. */
  readonly pkiDir?: string;
}

interface BmsVars {
  soc: UAVariable;
  soh: UAVariable;
  power: UAVariable;
  tMin: UAVariable;
  tMax: UAVariable;
  maxCh: UAVariable;
  maxDis: UAVariable;
  alarms: UAVariable;
}

const double = (value: number) => new Variant({ dataType: DataType.Double, value });

/**
 * A battery with its BMS behind an OPC UA server. The power follows the
 * written set-point within the BMS limits (charging tapers above 90 % SoC,
 * nothing below 0 % or above 100 %), SoC moves with the injected clock, and
 * the draw is reported to the site physics so the grid meter sees it.
 * `stop()` and `start()` again on the same port model a controller reboot.
 */
export class BmsServer {
  readonly id: string;
  socPct: number;
  sohPct = 97;
  powerW = 0;
  setpointW = 0;
  cellTempMinC = 24;
  cellTempMaxC = 26;
  /** Extra alarm bits injected by tests. */
  injectedAlarms = 0;
  private server?: OPCUAServer;
  private vars?: BmsVars;
  private timer?: TimerHandle;
  private lastStep: number;
  private boundPort: number;
  /** When the last set-point was written (the response delay runs from here). */
  private setAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: BmsServerOptions) {
    this.id = opts.id ?? 'bms';
    this.socPct = opts.initialSocPct ?? 50;
    this.boundPort = opts.port ?? 0;
    this.lastStep = opts.clock.now();
  }

  get port(): number {
    return this.boundPort;
  }

  get endpointUrl(): string {
    return `opc.tcp://127.0.0.1:${this.boundPort}`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  private get capacityWh(): number {
    return this.opts.capacityWh ?? 100_000;
  }

  /** Charge power the BMS allows at the current SoC, W. */
  maxChargeW(): number {
    const max = this.opts.maxChargeW ?? 50_000;
    if (this.socPct >= 100) return 0;
    return this.socPct > 90 ? (max * (100 - this.socPct)) / 10 : max;
  }

  maxDischargeW(): number {
    return this.socPct <= 0 ? 0 : (this.opts.maxDischargeW ?? 50_000);
  }

  alarms(): number {
    let a = this.injectedAlarms;
    if (this.cellTempMaxC > 45) a |= BMS_ALARM.overTemperature;
    if (this.socPct < 5) a |= BMS_ALARM.socLow;
    if (this.setpointW > this.maxChargeW() || -this.setpointW > this.maxDischargeW()) a |= BMS_ALARM.setpointLimited;
    return a;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const pki = this.opts.pkiDir ?? join(tmpdir(), 'gridkeeper-sim-opcua-pki');
    const users = this.opts.users;
    const server = new OPCUAServer({
      port: this.boundPort,
      serverCertificateManager: new OPCUACertificateManager({
        rootFolder: join(pki, 'server'),
        automaticallyAcceptUnknownCertificate: true,
      }),
      userCertificateManager: new OPCUACertificateManager({
        rootFolder: join(pki, 'user'),
        automaticallyAcceptUnknownCertificate: true,
      }),
      nodeset_filename: [nodesets.standard],
      // Basic256Sha256 next to None: it carries encrypted passwords on the None endpoint and lets tests try SignAndEncrypt.
      securityModes: [MessageSecurityMode.None, MessageSecurityMode.SignAndEncrypt],
      securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
      allowAnonymous: users === undefined,
      userManager: users ? { isValidUser: (u: string, p: string) => users[u] === p } : undefined,
      serverInfo: { applicationName: { text: 'gridkeeper simulated BMS', locale: 'en' } },
      buildInfo: { productName: 'gridkeeper-sim-bms', manufacturerName: 'gridkeeper' },
    });
    await server.initialize();
    this.buildAddressSpace(server);
    await server.start();
    this.boundPort = server.endpoints[0]?.port ?? this.boundPort;
    this.server = server;
    this.lastStep = this.opts.clock.now();
    this.timer = this.opts.clock.setInterval(() => this.step(), this.opts.stepMs ?? 1000);
    this.publish();
  }

  async stop(): Promise<void> {
    this.opts.clock.clearInterval(this.timer);
    this.timer = undefined;
    const server = this.server;
    this.server = undefined;
    this.vars = undefined;
    if (server) await server.shutdown(0);
  }

  /** Apply a set-point as if written over OPC UA (tests, demo). */
  setSetpoint(w: number): void {
    this.setpointW = w;
    this.setAt = this.opts.clock.now();
    this.follow(0);
    this.publish();
  }

  /** Advance the battery to the clock's now: integrate SoC, move temperatures, follow the set-point. */
  step(): void {
    const now = this.opts.clock.now();
    const dtMs = Math.max(0, now - this.lastStep);
    this.lastStep = now;
    this.socPct = Math.min(100, Math.max(0, this.socPct + ((this.powerW * dtMs) / 3_600_000 / this.capacityWh) * 100));
    // Cells warm with |power| and relax to 25 °C (time constant ~10 min).
    const load = Math.abs(this.powerW) / Math.max(1, this.opts.maxChargeW ?? 50_000);
    const target = 25 + 15 * load;
    const k = Math.min(1, dtMs / 600_000);
    this.cellTempMaxC += (target + 1 - this.cellTempMaxC) * k;
    this.cellTempMinC += (target - 1 - this.cellTempMinC) * k;
    this.follow(dtMs);
    this.publish();
  }

  /** Move the power towards the set-point (within the BMS limits), after the response delay and at the ramp rate. */
  private follow(dtMs: number): void {
    const want = Math.max(-this.maxDischargeW(), Math.min(this.maxChargeW(), this.setpointW));
    const delay = this.opts.responseDelayMs ?? 0;
    const ramp = this.opts.rampWPerS;
    if (this.opts.clock.now() - this.setAt < delay) {
      // Not following yet, but never beyond what the BMS allows now.
      this.powerW = Math.max(-this.maxDischargeW(), Math.min(this.maxChargeW(), this.powerW));
    } else if (ramp === undefined) {
      this.powerW = want;
    } else {
      const step = (ramp * dtMs) / 1000;
      this.powerW = want > this.powerW ? Math.min(want, this.powerW + step) : Math.max(want, this.powerW - step);
    }
    this.opts.physics?.setLoad(this.id, this.powerW);
  }

  private publish(): void {
    const v = this.vars;
    if (!v) return;
    v.soc.setValueFromSource(double(Math.round(this.socPct * 1000) / 1000));
    v.soh.setValueFromSource(double(this.sohPct));
    v.power.setValueFromSource(double(this.powerW));
    v.tMin.setValueFromSource(double(Math.round(this.cellTempMinC * 100) / 100));
    v.tMax.setValueFromSource(double(Math.round(this.cellTempMaxC * 100) / 100));
    v.maxCh.setValueFromSource(double(this.maxChargeW()));
    v.maxDis.setValueFromSource(double(this.maxDischargeW()));
    v.alarms.setValueFromSource(new Variant({ dataType: DataType.UInt32, value: this.alarms() }));
  }

  private buildAddressSpace(server: OPCUAServer): void {
    const addressSpace = server.engine.addressSpace;
    if (!addressSpace) throw new Error('OPC UA address space missing after initialize()');
    const ns = addressSpace.getOwnNamespace();
    const bms = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: 'BMS', nodeId: 's=BMS' });
    const sid = (nodeId: string) => nodeId.replace(/^ns=1;/, '');
    const ro = (key: keyof typeof BMS_NODES, browseName: string, dataType: 'Double' | 'UInt32' = 'Double') =>
      ns.addVariable({
        componentOf: bms,
        browseName,
        nodeId: sid(BMS_NODES[key]),
        dataType,
        minimumSamplingInterval: 0,
        accessLevel: 'CurrentRead',
        userAccessLevel: 'CurrentRead',
        value: new Variant({ dataType: dataType === 'Double' ? DataType.Double : DataType.UInt32, value: 0 }),
      });
    this.vars = {
      soc: ro('socPct', 'SoC'),
      soh: ro('sohPct', 'SoH'),
      power: ro('powerW', 'Power'),
      tMin: ro('cellTempMinC', 'CellTempMin'),
      tMax: ro('cellTempMaxC', 'CellTempMax'),
      maxCh: ro('maxChargePowerW', 'MaxChargePower'),
      maxDis: ro('maxDischargePowerW', 'MaxDischargePower'),
      alarms: ro('alarms', 'Alarms', 'UInt32'),
    };
    ns.addVariable({
      componentOf: bms,
      browseName: 'PowerSetpoint',
      nodeId: sid(BMS_NODES.setpointW),
      dataType: 'Double',
      accessLevel: 'CurrentRead | CurrentWrite',
      userAccessLevel: 'CurrentRead | CurrentWrite',
      minimumSamplingInterval: 100,
      value: {
        get: () => double(this.setpointW),
        set: (variant: Variant) => {
          const w = Number(variant.value);
          if (!Number.isFinite(w) || Math.abs(w) > 10_000_000) return StatusCodes.BadOutOfRange;
          this.setSetpoint(w);
          return StatusCodes.Good;
        },
      },
    });
  }
}

/** Start a simulated BMS (port 0 by default); call `stop()` when done. */
export async function startBmsServer(opts: BmsServerOptions): Promise<BmsServer> {
  const bms = new BmsServer(opts);
  await bms.start();
  return bms;
}

/**
 * An `opcua.devices` entry of the gateway's config for this simulator, as
 * plain data: the node ids the BMS serves; the gateway's schema validates it.
 */
export interface BmsDeviceEntry {
  readonly id: string;
  readonly endpoint: string;
  readonly nodes: Readonly<Record<Exclude<keyof typeof BMS_NODES, 'setpointW'>, string>>;
  readonly setpoint: { readonly powerW: string };
}

/** The gateway's OPC UA device config for this simulator (demo and tests). */
export function bmsDeviceConfig(endpoint: string, id = 'bms'): BmsDeviceEntry {
  return {
    id,
    endpoint,
    nodes: {
      socPct: BMS_NODES.socPct,
      sohPct: BMS_NODES.sohPct,
      powerW: BMS_NODES.powerW,
      cellTempMinC: BMS_NODES.cellTempMinC,
      cellTempMaxC: BMS_NODES.cellTempMaxC,
      maxChargePowerW: BMS_NODES.maxChargePowerW,
      maxDischargePowerW: BMS_NODES.maxDischargePowerW,
      alarms: BMS_NODES.alarms,
    },
    setpoint: { powerW: BMS_NODES.setpointW },
  };
}
