import { registerCount } from '../../../adapters/modbus/codec.js';
import { decodePoint, encodePoint, planReads } from '../../../adapters/modbus/profile-device.js';
import { type DeviceProfile, type ProfilePoint, type Quantity, UNITS } from '../../../adapters/modbus/profiles.js';
import type { Clock, TimerHandle } from '../../../src/model/clock.js';
import type { EvseStatus, PhaseRotation } from '../../../src/model/site.js';
import type { SitePhysics } from '../../site/physics.js';
import { SimVehicle, type VehicleSpec } from '../../site/vehicle.js';
import { ModbusSimServer, ModbusSimException, type UnitMemory } from './server.js';

export interface ProfileSimOptions {
  readonly profile: DeviceProfile;
  readonly host?: string;
  readonly port?: number;
  readonly unitId?: number;
  /** Share one server between several simulated units (an RTU gateway). */
  readonly server?: ModbusSimServer;
}

/**
 * A Modbus device simulated from its profile: the register map is the
 * profile's, values come from a provider per quantity, writes to writable
 * points are range-checked (exception 3 outside min/max) and handed on.
 */
export class ProfileDeviceSim {
  readonly server: ModbusSimServer;
  readonly unit: UnitMemory;
  readonly unitId: number;
  private readonly ownServer: boolean;
  private readonly stored = new Map<string, number>();
  provide: (quantity: Quantity, point: ProfilePoint) => number | undefined = () => undefined;
  onSet: (quantity: Quantity, value: number, point: ProfilePoint) => void = () => {};

  constructor(readonly o: ProfileSimOptions) {
    this.ownServer = o.server === undefined;
    this.server = o.server ?? new ModbusSimServer({ host: o.host ?? '127.0.0.1', port: o.port ?? 0 });
    this.unitId = o.unitId ?? 1;
    this.unit = this.server.unit(this.unitId);
    // Like a real device, reserved registers between points read as 0, so
    // the gateway's block reads over small gaps succeed.
    for (const b of planReads(o.profile)) this.unit.set(b.table, b.address, new Array<number>(b.count).fill(0));
    for (const pt of o.profile.points) {
      const table = pt.table ?? o.profile.defaults.table;
      const n = registerCount(pt.type);
      this.unit.set(table, pt.address, new Array<number>(n).fill(0));
      if (pt.access !== 'r') this.unit.allowWrite(pt.address, n);
    }
    this.unit.hooks.beforeRead = () => this.refresh();
    this.unit.hooks.onWrite = (addr, values) => this.written(addr, values);
  }

  get port(): number {
    return this.server.port;
  }

  async start(): Promise<void> {
    if (this.ownServer) await this.server.start();
  }

  async stop(): Promise<void> {
    if (this.ownServer) await this.server.stop();
  }

  /** Value last written to a writable point (base unit). */
  setting(name: string): number | undefined {
    return this.stored.get(name);
  }

  refresh(): void {
    for (const pt of this.o.profile.points) {
      if (pt.access === 'w') continue;
      const table = pt.table ?? this.o.profile.defaults.table;
      const v =
        pt.access === 'rw'
          ? (this.stored.get(pt.name) ?? this.provide(pt.quantity, pt))
          : this.provide(pt.quantity, pt);
      if (v === undefined) continue;
      this.unit.set(table, pt.address, encodePoint(this.o.profile, pt, v));
    }
  }

  private written(addr: number, values: readonly number[]): void {
    for (const pt of this.o.profile.points) {
      if (pt.access === 'r') continue;
      const n = registerCount(pt.type);
      if (pt.address + n <= addr || pt.address >= addr + values.length) continue;
      const regs = this.unit.get('holding', pt.address, n);
      if (!regs) continue;
      const v = decodePoint(this.o.profile, pt, regs);
      if (v === undefined) throw new ModbusSimException(3);
      const u = UNITS[pt.unit];
      const k = u.base === 'enum' || u.base === 'bool' ? 1 : u.factor;
      if ((pt.min !== undefined && v < pt.min * k - 1e-9) || (pt.max !== undefined && v > pt.max * k + 1e-9)) {
        throw new ModbusSimException(3);
      }
      this.stored.set(pt.name, v);
      this.onSet(pt.quantity, v, pt);
    }
  }
}

export interface ChargerSimOptions extends ProfileSimOptions {
  readonly clock: Clock;
  readonly physics: SitePhysics;
  /** Load id in the physics (defaults to `modbus-charger-<unit>`). */
  readonly id?: string;
  readonly phaseRotation?: PhaseRotation;
  readonly stepMs?: number;
}

/**
 * A Modbus charger from its profile, holding a SimVehicle and reporting its
 * draw to the site physics. Current-limit chargers offer the written current
 * to the vehicle; V2G chargers follow a signed power set-point. Without a
 * rewrite within the revert time, the charger falls back to its safe
 * current (or 0), as the real ones do.
 */
export class ModbusChargerSim extends ProfileDeviceSim {
  vehicle?: SimVehicle;
  private timer?: TimerHandle;
  private revertTimer?: TimerHandle;
  private readonly id: string;
  private limitA = 0;
  private powerSetW?: number;
  private v2gWh = 0;
  private totalWh = 0;
  private last: number;
  /** Set-point writes accepted (tests). */
  setpointWrites = 0;
  reverted = 0;

  constructor(private readonly c: ChargerSimOptions) {
    super(c);
    this.id = c.id ?? `modbus-charger-${this.unitId}`;
    this.last = c.clock.now();
    this.provide = (q) => this.value(q);
    this.onSet = (q, v) => this.set(q, v);
  }

  override async start(): Promise<void> {
    this.last = this.c.clock.now();
    this.timer = this.c.clock.setInterval(() => this.step(), this.c.stepMs ?? 1000);
    await super.start();
  }

  override async stop(): Promise<void> {
    this.c.clock.clearInterval(this.timer);
    this.c.clock.clearTimeout(this.revertTimer);
    this.c.physics.removeLoad(this.id);
    await super.stop();
  }

  plugIn(spec: VehicleSpec): SimVehicle {
    this.vehicle = new SimVehicle(spec, this.c.clock.now());
    this.vehicle.offer(this.limitA, this.c.clock.now());
    this.v2gWh = 0;
    return this.vehicle;
  }

  unplug(): void {
    this.vehicle = undefined;
    this.c.physics.removeLoad(this.id);
  }

  get phases(): 1 | 3 {
    return this.vehicle?.spec.phases ?? this.o.profile.charger?.phases ?? 3;
  }

  /** Power drawn now, W (+ charging, - V2G). */
  powerW(): number {
    const v = this.vehicle;
    if (!v) return 0;
    if (this.powerSetW !== undefined && this.powerSetW < 0) return v.socPct - this.v2gPct() > 5 ? this.powerSetW : 0;
    return v.powerW(this.c.physics.voltageV);
  }

  private v2gPct(): number {
    const v = this.vehicle;
    return v ? (100 * this.v2gWh) / v.spec.capacityWh : 0;
  }

  status(): EvseStatus {
    const v = this.vehicle;
    if (!v) return 'Available';
    const p = this.powerW();
    if (p !== 0) return 'Charging';
    if (v.full) return 'SuspendedEV';
    return this.limitA <= 0 && (this.powerSetW ?? 0) === 0 ? 'SuspendedEVSE' : 'SuspendedEV';
  }

  private value(q: Quantity): number | undefined {
    const V = this.c.physics.voltageV;
    const p = this.powerW();
    const a = Math.abs(p) / (this.phases * V);
    switch (q) {
      case 'status': {
        const st = this.status();
        const statusPt = this.o.profile.points.find((x) => x.quantity === 'status');
        const entry = Object.entries(statusPt?.enum ?? {}).find(([, s]) => s === st);
        return entry ? Number(entry[0]) : 0;
      }
      case 'power':
        return p;
      case 'currentL1':
        return a;
      case 'currentL2':
      case 'currentL3':
        return this.phases === 3 ? a : 0;
      case 'voltageL1':
      case 'voltageL2':
      case 'voltageL3':
        return V;
      case 'energy':
        return this.totalWh;
      case 'sessionEnergy':
        return Math.max(0, (this.vehicle?.deliveredWh ?? 0) - this.v2gWh);
      case 'soc':
        return this.vehicle ? Math.round(this.vehicle.socPct - this.v2gPct()) : undefined;
      case 'other':
        return undefined;
      default:
        return undefined;
    }
  }

  /** Values of read points that mirror a setting (KEBA's max charging current). */
  override refresh(): void {
    super.refresh();
    const mirror = this.o.profile.points.find((x) => x.name === 'maxChargingCurrent' || x.name === 'appliedMaxCurrent');
    if (mirror) {
      const table = mirror.table ?? this.o.profile.defaults.table;
      this.unit.set(table, mirror.address, encodePoint(this.o.profile, mirror, this.limitA));
    }
  }

  private set(q: Quantity, v: number): void {
    const now = this.c.clock.now();
    if (q === 'currentLimit') {
      this.setpointWrites++;
      this.limitA = v;
      this.vehicle?.offer(v, now);
      this.armRevert();
    } else if (q === 'powerSetpoint') {
      this.setpointWrites++;
      this.powerSetW = v;
      this.limitA = v > 0 ? v / (this.phases * this.c.physics.voltageV) : 0;
      this.vehicle?.offer(this.limitA, now);
      this.armRevert();
    }
  }

  private armRevert(): void {
    this.c.clock.clearTimeout(this.revertTimer);
    const setPt = this.o.profile.points.find((x) => x.quantity === 'currentLimit' || x.quantity === 'powerSetpoint');
    const reg = this.o.profile.points.find((x) => x.quantity === 'revertTimeout');
    const s = (reg ? this.setting(reg.name) : undefined) ?? setPt?.revertTimeoutS ?? 0;
    if (s <= 0) return;
    this.revertTimer = this.c.clock.setTimeout(() => {
      this.reverted++;
      const fb = this.o.profile.points.find((x) => x.quantity === 'fallbackCurrent');
      const safe = (fb ? this.setting(fb.name) : undefined) ?? 0;
      this.limitA = safe;
      this.powerSetW = this.powerSetW === undefined ? undefined : 0;
      this.vehicle?.offer(safe, this.c.clock.now());
    }, s * 1000);
  }

  private step(): void {
    const now = this.c.clock.now();
    const dtH = Math.max(0, now - this.last) / 3_600_000;
    this.last = now;
    const v = this.vehicle;
    if (!v) return;
    v.step(now, this.c.physics.voltageV);
    const p = this.powerW();
    if (p < 0) this.v2gWh += -p * dtH;
    this.totalWh += Math.abs(p) * dtH;
    const a = Math.abs(p) / (this.phases * this.c.physics.voltageV);
    const sign = p < 0 ? -1 : 1;
    const cur: [number, number, number] = this.phases === 3 ? [sign * a, sign * a, sign * a] : [sign * a, 0, 0];
    this.c.physics.setLoad(this.id, p, cur, this.c.phaseRotation ?? 'L1L2L3');
  }
}

/** A profile meter (e.g. the Eastron SDM630) measuring the site's grid connection. */
export class ProfileMeterSim extends ProfileDeviceSim {
  constructor(o: ProfileSimOptions & { readonly physics: SitePhysics; readonly usage?: 'grid' | 'pv' }) {
    super(o);
    const p = o.physics;
    this.provide = (q) => {
      const pv = o.usage === 'pv';
      switch (q) {
        case 'power':
          // A PV meter sees production as export (negative), as wired in the field.
          return pv ? -p.pvPowerW() : p.gridPowerW();
        case 'currentL1':
        case 'currentL2':
        case 'currentL3': {
          const i = q === 'currentL1' ? 0 : q === 'currentL2' ? 1 : 2;
          return pv ? p.pvPowerW() / (3 * p.voltageV) : Math.abs(p.gridCurrentsA()[i] ?? 0);
        }
        case 'voltageL1':
        case 'voltageL2':
        case 'voltageL3':
          return p.voltageV;
        case 'frequency':
          return 50;
        case 'importEnergy':
          return pv ? 0 : p.importWh;
        case 'exportEnergy':
          return pv ? p.pvWh : p.exportWh;
        default:
          return undefined;
      }
    };
  }
}
