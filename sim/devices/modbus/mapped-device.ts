import type { Clock } from '../../../src/model/clock.js';
import type { SitePhysics } from '../../site/physics.js';
import { type SimDeviceMap, type SimPoint, type SimQuantity, pointTable } from './device-map.js';
import { simDeviceMap } from './device-maps.js';
import { decodeRaw, encodeRaw, notImplemented, wordsOf } from './registers.js';
import { type DeviceHabits, ModbusSimException, ModbusSimServer, type UnitMemory, habitsOf } from './server.js';

/** Device habits (one client only, response time) are the server's options. */
export interface MappedSimOptions extends DeviceHabits {
  /** A map of sim/devices/modbus/device-maps.ts by name (e.g. `eastron-sdm630`), or a map of one's own. */
  readonly device: string | SimDeviceMap;
  readonly host?: string;
  readonly port?: number;
  readonly unitId?: number;
  /** Share one server between several simulated units (an RTU gateway). */
  readonly server?: ModbusSimServer;
  /** Needed for `responseDelayMs`. */
  readonly clock?: Clock;
}

/**
 * A Modbus device simulated from its own register map: values come from a
 * provider per quantity and are encoded at every read (so a value and its
 * scaling always change together); points the device has no value for read
 * as "not implemented"; writes to writable points are range-checked
 * (exception 3 outside min/max) and handed on.
 */
export class MappedDeviceSim {
  /** What a subclass runs beside the server (started first, stopped first). */
  protected readonly parts: { start(): void; stop(): void }[] = [];
  readonly server: ModbusSimServer;
  readonly unit: UnitMemory;
  readonly unitId: number;
  readonly map: SimDeviceMap;
  private readonly ownServer: boolean;
  private readonly stored = new Map<string, number>();
  provide: (quantity: SimQuantity, point: SimPoint) => number | undefined = () => undefined;
  /** Called for every accepted write; throw ModbusSimException to refuse it. */
  onSet: (quantity: SimQuantity, value: number, point: SimPoint) => void = () => {};

  constructor(o: MappedSimOptions) {
    this.map = simDeviceMap(o.device);
    this.ownServer = o.server === undefined;
    this.server = o.server ?? new ModbusSimServer({ host: o.host ?? '127.0.0.1', port: o.port ?? 0, ...habitsOf(o) });
    this.unitId = o.unitId ?? 1;
    this.unit = this.server.unit(this.unitId);
    // Reserved registers inside a documented block read 0, like a real device.
    for (const b of this.map.blocks) {
      this.unit.set(b.table ?? this.map.table, b.from, new Array<number>(b.to - b.from + 1).fill(0));
    }
    for (const p of this.map.points) {
      if (p.access === 'w' || p.access === 'rw') this.unit.allowWrite(p.address, wordsOf(p.type));
      if (p.initial !== undefined) this.stored.set(p.name, p.initial);
      if (p.access !== 'w') this.unit.set(pointTable(this.map, p), p.address, notImplemented(p.type));
    }
    this.unit.hooks.beforeRead = () => this.refresh();
    this.unit.hooks.onWrite = (addr, values) => this.written(addr, values);
  }

  get port(): number {
    return this.server.port;
  }

  async start(): Promise<void> {
    for (const p of this.parts) p.start();
    if (this.ownServer) await this.server.start();
  }

  async stop(): Promise<void> {
    for (const p of this.parts) p.stop();
    if (this.ownServer) await this.server.stop();
  }

  /** Value of a writable point (written, or its factory value), engineering units. */
  setting(name: string): number | undefined {
    return this.stored.get(name);
  }

  /** Registers of a point, encoded the way this device encodes them. */
  encode(p: SimPoint, value: number): number[] {
    return encodeRaw(p.type, value / (p.per ?? 1), this.map.wordOrder);
  }

  /** Copy the current values into the registers; runs before every read. */
  refresh(): void {
    for (const p of this.map.points) {
      if (p.access === 'w') continue;
      const v = p.access === 'rw' ? this.stored.get(p.name) : this.provide(p.quantity, p);
      const regs = v === undefined || !Number.isFinite(v) ? notImplemented(p.type) : this.encode(p, v);
      this.unit.set(pointTable(this.map, p), p.address, regs);
    }
  }

  private written(addr: number, values: readonly number[]): void {
    for (const p of this.map.points) {
      if (p.access !== 'w' && p.access !== 'rw') continue;
      const n = wordsOf(p.type);
      if (p.address + n <= addr || p.address >= addr + values.length) continue;
      const regs = this.unit.get('holding', p.address, n);
      if (!regs) continue;
      const scaled = decodeRaw(p.type, regs, this.map.wordOrder) * (p.per ?? 1);
      // Integer counts times a decimal step (8000 · 0.001) land next to the value; snap back.
      const v = p.type === 'float32' ? scaled : Math.round(scaled * 1e6) / 1e6;
      const tolerance = 1e-9 * Math.max(1, Math.abs(v));
      if (
        !Number.isFinite(v) ||
        (p.min !== undefined && v < p.min - tolerance) ||
        (p.max !== undefined && v > p.max + tolerance)
      ) {
        throw new ModbusSimException(3);
      }
      this.onSet(p.quantity, v, p);
      this.stored.set(p.name, v);
    }
  }
}

export interface MeterSimOptions extends MappedSimOptions {
  readonly physics: SitePhysics;
  /** `pv`: the meter measures the PV feed-in, so production reads as export (negative power). */
  readonly usage?: 'grid' | 'pv';
}

/** A register-mapped meter (e.g. the Eastron SDM630) on the site's grid connection or PV feed. */
export class MeterSim extends MappedDeviceSim {
  constructor(o: MeterSimOptions) {
    super(o);
    const p = o.physics;
    const pv = o.usage === 'pv';
    const phase = (q: SimQuantity) => (q.endsWith('L1') ? 0 : q.endsWith('L2') ? 1 : 2);
    this.provide = (q) => {
      switch (q) {
        case 'power':
          return pv ? -p.pvPowerW() : p.gridPowerW();
        case 'powerL1':
        case 'powerL2':
        case 'powerL3':
          return pv ? -p.pvPowerW() / 3 : (p.gridCurrentsA()[phase(q)] ?? 0) * p.voltageV;
        case 'currentL1':
        case 'currentL2':
        case 'currentL3':
          // Meters report the current's magnitude; the direction is in the power.
          return pv ? p.pvPowerW() / (3 * p.voltageV) : Math.abs(p.gridCurrentsA()[phase(q)] ?? 0);
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
