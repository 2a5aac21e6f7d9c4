import type { Clock } from '../../../src/model/clock.js';
import type { EvseStatus, PhaseRotation } from '../../../src/model/site.js';
import type { SitePhysics } from '../../site/physics.js';
import { SimVehicle, type VehicleSpec } from '../../site/vehicle.js';
import type { SimPoint, SimQuantity } from './device-map.js';
import { MappedDeviceSim, type MappedSimOptions } from './mapped-device.js';
import { ModbusSimException } from './server.js';
import { SiteLoad } from './site-load.js';

export interface ChargerSimOptions extends MappedSimOptions {
  readonly clock: Clock;
  readonly physics: SitePhysics;
  /** Load id in the physics (defaults to `modbus-charger-<unit>`). */
  readonly id?: string;
  readonly phaseRotation?: PhaseRotation;
  readonly stepMs?: number;
}

/**
 * A Modbus charger from its register map, holding a SimVehicle and reporting
 * its draw to the site physics. Current-limit chargers offer the written
 * current to the vehicle; V2G chargers follow a signed power set-point.
 * Without a rewrite within the revert time the charger falls back to its
 * safe current, as the real ones do.
 */
export class ModbusChargerSim extends MappedDeviceSim {
  vehicle?: SimVehicle;
  private readonly load: SiteLoad;
  private revertAt?: number;
  private readonly id: string;
  private limitA = 0;
  private powerSetW?: number;
  private v2gWh = 0;
  private totalWh = 0;
  /** Set-point writes accepted (tests). */
  setpointWrites = 0;
  reverted = 0;

  constructor(private readonly c: ChargerSimOptions) {
    super(c);
    if (!this.map.charger) throw new Error(`${this.map.vendor} ${this.map.model} is not a charger`);
    this.id = c.id ?? `modbus-charger-${this.unitId}`;
    this.load = new SiteLoad({ ...c, id: this.id, step: (dtH, now) => this.step(dtH, now) });
    this.parts.push(this.load);
    this.provide = (q, p) => this.value(q, p);
    this.onSet = (q, v) => this.set(q, v);
  }

  /** Is the charger V2G-capable (for callers building configs). */
  get bidirectional(): boolean {
    return this.hw.bidirectional;
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
    return this.vehicle?.spec.phases ?? this.hw.phases;
  }

  /** Power drawn now, W (+ charging, - V2G). */
  powerW(): number {
    const v = this.vehicle;
    if (!v) return 0;
    if (this.powerSetW !== undefined && this.powerSetW < 0) return v.socPct - this.v2gPct() > 5 ? this.powerSetW : 0;
    return v.powerW(this.c.physics.voltageV);
  }

  status(): EvseStatus {
    const v = this.vehicle;
    if (!v) return 'Available';
    if (this.powerW() !== 0) return 'Charging';
    if (v.full) return 'SuspendedEV';
    return this.limitA <= 0 && (this.powerSetW ?? 0) === 0 ? 'SuspendedEVSE' : 'SuspendedEV';
  }

  private get hw() {
    const hw = this.map.charger;
    if (!hw) throw new Error('not a charger');
    return hw;
  }

  private v2gPct(): number {
    const v = this.vehicle;
    return v ? (100 * this.v2gWh) / v.spec.capacityWh : 0;
  }

  private statusCode(): number {
    const codes = this.map.status ?? {};
    if (this.powerW() < 0 && this.map.dischargingStatus !== undefined) return this.map.dischargingStatus;
    // A device with one "connected, not charging" code (CP state B) reports it for every such state.
    const plugged = codes.SuspendedEV ?? codes.SuspendedEVSE ?? codes.Preparing;
    const fallback = this.vehicle && this.status() !== 'Charging' ? plugged : undefined;
    return codes[this.status()] ?? fallback ?? codes.Available ?? 0;
  }

  /** The writable point of a quantity (a set register), if the device has one. */
  private writable(q: SimQuantity): SimPoint | undefined {
    return this.map.points.find((p) => p.quantity === q && (p.access === 'w' || p.access === 'rw'));
  }

  private value(q: SimQuantity, point?: SimPoint): number | undefined {
    const V = this.c.physics.voltageV;
    const p = this.powerW();
    const a = Math.abs(p) / (this.phases * V);
    const onPhase = (i: number) => i === 1 || this.phases === 3;
    switch (q) {
      case 'status':
        return this.statusCode();
      case 'power':
        return p;
      case 'powerL1':
      case 'powerL2':
      case 'powerL3':
        return onPhase(Number(q.slice(-1))) ? p / this.phases : 0;
      case 'currentL1':
      case 'currentL2':
      case 'currentL3':
        return onPhase(Number(q.slice(-1))) ? a : 0;
      case 'voltageL1':
      case 'voltageL2':
      case 'voltageL3':
        return V;
      case 'frequency':
        return 50;
      case 'energy':
        return this.totalWh;
      case 'sessionEnergy':
        return Math.max(0, (this.vehicle?.deliveredWh ?? 0) - this.v2gWh);
      case 'soc':
        if (this.vehicle) return Math.round(this.vehicle.socPct - this.v2gPct());
        // No vehicle: the register holds the value the device documents as "not available".
        return point?.invalid?.[0] !== undefined ? point.invalid[0] * (point.per ?? 1) : undefined;
      case 'cableState':
        // KEBA-style: 0 no cable, 7 cable plugged and locked at both ends.
        return this.vehicle ? 7 : 0;
      case 'errorCode':
        return 0;
      case 'appliedCurrent':
        return this.limitA;
      case 'hardwareMaxCurrent':
        return this.hw.maxCurrentA;
      case 'setting':
        return point ? this.setting(point.name) : undefined;
      case 'revertTimeout':
      case 'fallbackCurrent': {
        // A read-back register mirrors its set register; alone, it holds its factory value.
        const w = this.writable(q);
        return (w ? this.setting(w.name) : undefined) ?? (point ? this.setting(point.name) : undefined);
      }
      case 'validTimeRemaining':
        return this.revertAt === undefined ? 0 : Math.max(0, Math.ceil((this.revertAt - this.c.clock.now()) / 1000));
      default:
        return undefined;
    }
  }

  private set(q: SimQuantity, v: number): void {
    const now = this.c.clock.now();
    if (q === 'currentLimit') {
      this.setpointWrites++;
      this.limitA = Math.min(v, this.hw.maxCurrentA);
      this.vehicle?.offer(this.limitA, now);
      this.armRevert();
    } else if (q === 'powerSetpoint') {
      if (this.hw.needsRemoteControl && !this.remote()) throw new ModbusSimException(4);
      this.setpointWrites++;
      this.powerSetW = v;
      this.limitA = v > 0 ? Math.min(this.hw.maxCurrentA, v / (this.phases * this.c.physics.voltageV)) : 0;
      this.vehicle?.offer(this.limitA, now);
      this.armRevert();
    }
  }

  /** Remote control selected with power set-points (Quasar-style control registers). */
  private remote(): boolean {
    const mode = this.map.points.find((p) => p.quantity === 'controlMode');
    const type = this.map.points.find((p) => p.quantity === 'setpointType');
    return (!mode || this.setting(mode.name) === 1) && (!type || this.setting(type.name) === 1);
  }

  private armRevert(): void {
    const reg = this.writable('revertTimeout');
    const s = (reg ? this.setting(reg.name) : undefined) ?? this.hw.revertS;
    this.revertAt = s > 0 ? this.c.clock.now() + s * 1000 : undefined;
    this.load.armRevert(s, () => {
      this.reverted++;
      this.revertAt = undefined;
      // The installer's fallback: the set register if there is one (unset: the device default), else the fixed one.
      const fbw = this.writable('fallbackCurrent');
      const fbr = this.map.points.find((x) => x.quantity === 'fallbackCurrent');
      const safe = (fbw ? this.setting(fbw.name) : fbr ? this.setting(fbr.name) : undefined) ?? this.hw.fallbackA;
      this.limitA = safe;
      this.powerSetW = this.powerSetW === undefined ? undefined : 0;
      this.vehicle?.offer(safe, this.c.clock.now());
    });
  }

  private step(dtH: number, now: number): void {
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
