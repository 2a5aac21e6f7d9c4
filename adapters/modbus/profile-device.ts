import type { GatewayBusPort } from '../../src/ports/bus.js';
import type { ModbusEvseConfig } from '../../src/ports/config.js';
import type { SetpointSink } from '../../src/model/adapter.js';
import type { Clock } from '../../src/model/clock.js';
import type { Setpoint } from '../../src/model/decision.js';
import { type Reading, reading } from '../../src/model/reading.js';
import type { EvseLive, EvseStatus, PhaseValues } from '../../src/model/site.js';
import type { Logger } from '../../src/util/logger.js';
import { decodeNumber, encodeNumber, registerCount } from './codec.js';
import type { DeviceDriver, DeviceRole } from './device.js';
import { ModbusConfirmError } from './errors.js';
import type { ModbusLink } from './link.js';
import { type DeviceProfile, type ProfilePoint, type Quantity, UNITS } from './profiles.js';

export interface ProfileDeviceOptions {
  readonly id: string;
  readonly role: DeviceRole;
  readonly unitId: number;
  readonly timeoutMs: number;
  readonly invertPower: boolean;
  readonly revertTimeoutS: number;
  readonly evse?: ModbusEvseConfig;
  /** Overrides the profile's limit for this device (site config). */
  readonly maxRegistersPerRead?: number;
}

export interface ProfileDeviceDeps {
  readonly link: ModbusLink;
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: GatewayBusPort;
}

interface Block {
  readonly table: 'holding' | 'input';
  readonly address: number;
  readonly count: number;
  readonly points: ProfilePoint[];
}

/** Group readable points into as few requests as the map and the device's request size allow. */
export function planReads(profile: DeviceProfile, maxRegistersPerRead = profile.defaults.maxRegistersPerRead): Block[] {
  const readable = profile.points
    .filter((p) => p.access !== 'w')
    .map((p) => ({ p, table: p.table ?? profile.defaults.table }))
    .sort((a, b) => (a.table === b.table ? a.p.address - b.p.address : a.table < b.table ? -1 : 1));
  const blocks: Block[] = [];
  let cur: { table: 'holding' | 'input'; address: number; end: number; points: ProfilePoint[] } | undefined;
  for (const { p, table } of readable) {
    const end = p.address + registerCount(p.type);
    if (
      cur &&
      cur.table === table &&
      p.address - cur.end <= profile.defaults.maxGap &&
      end - cur.address <= maxRegistersPerRead
    ) {
      cur.end = Math.max(cur.end, end);
      cur.points.push(p);
    } else {
      if (cur)
        blocks.push({ table: cur.table, address: cur.address, count: cur.end - cur.address, points: cur.points });
      cur = { table, address: p.address, end, points: [p] };
    }
  }
  if (cur) blocks.push({ table: cur.table, address: cur.address, count: cur.end - cur.address, points: cur.points });
  return blocks;
}

/** Raw register value -> engineering value in the base unit; undefined for invalid / NaN. */
export function decodePoint(profile: DeviceProfile, pt: ProfilePoint, regs: readonly number[]): number | undefined {
  const decoded = decodeNumber(regs, pt.type, {
    wordOrder: pt.wordOrder ?? profile.defaults.wordOrder,
    byteOrder: pt.byteOrder ?? profile.defaults.byteOrder,
  });
  if (decoded === undefined) return undefined;
  // A state byte beside spare bits: keep the documented bits (`>>> 0` keeps bit 31 unsigned).
  const raw = pt.mask === undefined ? decoded : (decoded & pt.mask) >>> 0;
  if (pt.invalid.includes(raw)) return undefined;
  const base = UNITS[pt.unit].base;
  if (base === 'enum' || base === 'bool') return raw;
  return raw * pt.scale * UNITS[pt.unit].factor * (pt.sign === 'inverted' ? -1 : 1);
}

/** Engineering value in the base unit -> registers. */
export function encodePoint(profile: DeviceProfile, pt: ProfilePoint, value: number): number[] {
  const base = UNITS[pt.unit].base;
  const k =
    base === 'enum' || base === 'bool' ? 1 : pt.scale * UNITS[pt.unit].factor * (pt.sign === 'inverted' ? -1 : 1);
  return encodeNumber(value / k, pt.type, {
    wordOrder: pt.wordOrder ?? profile.defaults.wordOrder,
    byteOrder: pt.byteOrder ?? profile.defaults.byteOrder,
  });
}

/** Base-unit value of a point's min/max (declared in the point's own unit). */
function limit(pt: ProfilePoint, v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  const base = UNITS[pt.unit].base;
  return base === 'enum' || base === 'bool' ? v : v * UNITS[pt.unit].factor;
}

/**
 * A device described by a profile: reads its points in planned blocks and
 * publishes them by role; writes set-points clamped to the profile's range
 * and confirms each by reading it back.
 */
export class ProfileDevice implements DeviceDriver {
  private readonly blocks: Block[];
  private readonly byQuantity = new Map<Quantity, ProfilePoint>();
  private readonly byName = new Map<string, ProfilePoint>();
  values: Partial<Record<string, number>> = {};
  private last: Record<string, number> = {};
  /** Last set-point written, re-written before the device's revert time runs out. */
  private held?: { pt: ProfilePoint; value: number; at: number };

  constructor(
    private readonly o: ProfileDeviceOptions,
    readonly profile: DeviceProfile,
    private readonly d: ProfileDeviceDeps,
  ) {
    this.blocks = planReads(profile, o.maxRegistersPerRead);
    for (const pt of profile.points) {
      this.byName.set(pt.name, pt);
      if (!this.byQuantity.has(pt.quantity)) this.byQuantity.set(pt.quantity, pt);
    }
  }

  get evseId(): string {
    return `${this.o.id}/${this.o.evse?.connectorId ?? 1}`;
  }

  async init(): Promise<void> {
    // After a reconnect the device may have reverted: the next round rewrites what we hold.
    const held = this.held;
    if (held) this.held = { ...held, at: Number.NEGATIVE_INFINITY };
    for (const w of this.profile.init) await this.writePoint(w.point, w.value);
    const rt = this.byQuantity.get('revertTimeout');
    if (rt && rt.access !== 'r') await this.write(rt, this.o.revertTimeoutS);
    // Announced on every (re)connection: a process image started after us still learns the EVSE.
    if (this.o.role === 'charger') {
      const c = this.profile.charger;
      const e = this.o.evse;
      this.d.bus.emit('evse.spec', {
        id: this.evseId,
        chargerId: this.o.id,
        connectorId: e?.connectorId ?? 1,
        protocol: 'modbus',
        circuitId: e?.circuit ?? 'site',
        phaseRotation: e?.phaseRotation ?? 'L1L2L3',
        phases: e?.phases ?? c?.phases ?? 3,
        minCurrentA: e?.minCurrentA ?? c?.minCurrentA ?? 6,
        maxCurrentA: Math.min(e?.maxCurrentA ?? Number.POSITIVE_INFINITY, c?.maxCurrentA ?? 32),
        voltageV: e?.voltageV ?? 230,
        bidirectional: c?.bidirectional ?? false,
        priority: e?.priority ?? 0,
      });
    }
  }

  async readAll(): Promise<Partial<Record<string, number>>> {
    const values: Partial<Record<string, number>> = {};
    for (const b of this.blocks) {
      const regs = await this.d.link.read(this.o.unitId, b.table, b.address, b.count, this.o.timeoutMs);
      for (const pt of b.points) {
        const off = pt.address - b.address;
        values[pt.name] = decodePoint(this.profile, pt, regs.slice(off, off + registerCount(pt.type)));
      }
    }
    this.values = values;
    return values;
  }

  private q(values: Partial<Record<string, number>>, quantity: Quantity): number | undefined {
    const pt = this.byQuantity.get(quantity);
    return pt ? values[pt.name] : undefined;
  }

  private powerSign(): number {
    // A meter used as a PV meter measures production as export: flip it to PV >= 0.
    const usageFlip = this.o.role === 'pv' && this.profile.kind === 'meter' ? -1 : 1;
    return usageFlip * (this.o.invertPower ? -1 : 1);
  }

  /** Seconds after which the device drops a set-point that was not rewritten. */
  revertSeconds(pt: ProfilePoint): number {
    const reg = this.byQuantity.get('revertTimeout');
    return reg && reg.access !== 'r' ? this.o.revertTimeoutS : (pt.revertTimeoutS ?? 0);
  }

  async poll(): Promise<void> {
    const held = this.held;
    if (held) {
      // The dispatcher writes only changes; the device wants to hear from us before its revert time.
      const s = this.revertSeconds(held.pt);
      if (s > 0 && this.d.clock.now() - held.at >= (s * 1000) / 2) await this.hold(held.pt, held.value);
    }
    const v = await this.readAll();
    const src = this.o.id;
    const r = <T>(x: T): Reading<T> => reading(x, this.d.clock.now(), src);
    const power = this.q(v, 'power');
    const signed = power === undefined ? undefined : power * this.powerSign();
    if (signed !== undefined) this.last.powerW = signed;
    const l1 = this.q(v, 'currentL1');
    const l2 = this.q(v, 'currentL2');
    const l3 = this.q(v, 'currentL3');
    const currents = l1 !== undefined ? ([l1, l2 ?? 0, l3 ?? 0] as PhaseValues) : undefined;
    switch (this.o.role) {
      case 'grid': {
        const imp = this.q(v, 'importEnergy');
        const exp = this.q(v, 'exportEnergy');
        this.d.bus.emit('grid', {
          ...(signed !== undefined ? { powerW: r(signed) } : {}),
          ...(currents ? { currentsA: r(currents) } : {}),
          ...(imp !== undefined ? { importEnergyWh: r(imp) } : {}),
          ...(exp !== undefined ? { exportEnergyWh: r(exp) } : {}),
        });
        return;
      }
      case 'pv': {
        const energy = this.q(v, 'energy') ?? (this.profile.kind === 'meter' ? this.q(v, 'exportEnergy') : undefined);
        this.d.bus.emit('pv', {
          ...(signed !== undefined ? { powerW: r(Math.max(0, signed)) } : {}),
          ...(energy !== undefined ? { energyWh: r(energy) } : {}),
        });
        return;
      }
      case 'battery': {
        const soc = this.q(v, 'soc');
        if (soc !== undefined) this.last.socPct = soc;
        this.d.bus.emit('battery', {
          ...(signed !== undefined ? { powerW: r(signed) } : {}),
          ...(soc !== undefined ? { socPct: r(soc) } : {}),
        });
        return;
      }
      case 'charger': {
        const statusPt = this.byQuantity.get('status');
        const raw = statusPt ? v[statusPt.name] : undefined;
        const status = (raw !== undefined ? statusPt?.enum?.[String(raw)] : undefined) as EvseStatus | undefined;
        const session = this.q(v, 'sessionEnergy');
        const patch: Partial<EvseLive> = {
          status: status ?? 'Unavailable',
          ...(signed !== undefined ? { powerW: r(signed) } : {}),
          ...(currents ? { currentsA: r(currents) } : {}),
          ...(session !== undefined ? { sessionEnergyWh: session } : {}),
          lastSeen: this.d.clock.now(),
        };
        this.d.bus.emit('evse.live', { id: this.evseId, patch });
        return;
      }
      case 'load':
        return;
    }
  }

  markBad(reason: string): void {
    const ts = this.d.clock.now();
    const bad = reading(this.last.powerW ?? 0, ts, this.o.id, 'bad');
    switch (this.o.role) {
      case 'grid':
        this.d.bus.emit('grid', { powerW: bad });
        return;
      case 'pv':
        this.d.bus.emit('pv', { powerW: bad });
        return;
      case 'battery':
        this.d.bus.emit('battery', { powerW: bad, socPct: reading(this.last.socPct ?? 0, ts, this.o.id, 'bad') });
        return;
      case 'charger':
        this.d.bus.emit('evse.live', { id: this.evseId, patch: { status: 'Offline', powerW: bad } });
        this.d.log.debug({ device: this.o.id, reason }, 'charger marked offline');
        return;
      case 'load':
        return;
    }
  }

  async writePoint(name: string, value: number): Promise<number> {
    const pt = this.byName.get(name);
    if (!pt) throw new Error(`${this.o.id}: profile ${this.profile.name} has no point ${name}`);
    return this.write(pt, value);
  }

  /**
   * Clamp to the point's range, write, read back and compare. Returns the
   * value written (after clamping).
   */
  async write(pt: ProfilePoint, wanted: number): Promise<number> {
    if (pt.access === 'r') throw new Error(`${this.o.id}: point ${pt.name} is read-only`);
    const lo = limit(pt, pt.min) ?? Number.NEGATIVE_INFINITY;
    const hi = limit(pt, pt.max) ?? Number.POSITIVE_INFINITY;
    const value = Math.min(hi, Math.max(lo, wanted));
    const regs = encodePoint(this.profile, pt, value);
    await this.d.link.write(this.o.unitId, pt.address, regs, { single: pt.singleWrite, timeoutMs: this.o.timeoutMs });
    // Write-only registers (KEBA-style) are confirmed through the point that mirrors them.
    const via = pt.access === 'w' ? (pt.confirm !== undefined ? this.byName.get(pt.confirm) : undefined) : pt;
    if (!via) return value;
    const table = via.table ?? this.profile.defaults.table;
    const back = await this.d.link.read(this.o.unitId, table, via.address, registerCount(via.type), this.o.timeoutMs);
    const got = decodePoint(this.profile, via, back);
    const step = Math.max(Math.abs(pt.scale * UNITS[pt.unit].factor), Math.abs(via.scale * UNITS[via.unit].factor));
    if (got === undefined || Math.abs(got - value) > Math.max(step / 2, Math.abs(value) * 1e-6)) {
      throw new ModbusConfirmError(`${this.o.id}: ${pt.name} written ${value}, read back ${got ?? 'nothing'}`);
    }
    return value;
  }

  /**
   * Apply an EVSE set-point: a signed power set-point where the device has one
   * (V2G), the per-phase current limit otherwise.
   */
  async applySetpoint(sp: Setpoint): Promise<void> {
    const power = this.byQuantity.get('powerSetpoint');
    const current = this.byQuantity.get('currentLimit');
    if (power && power.access !== 'r' && (this.profile.charger?.bidirectional || !current)) {
      await this.hold(power, sp.powerW);
      return;
    }
    if (current && current.access !== 'r') {
      await this.hold(current, sp.currentA);
      return;
    }
    throw new Error(`${this.o.id}: profile ${this.profile.name} has no writable set-point`);
  }

  private async hold(pt: ProfilePoint, value: number): Promise<void> {
    await this.write(pt, value);
    this.held = { pt, value, at: this.d.clock.now() };
  }

  sink(): SetpointSink {
    return { applySetpoint: (sp) => this.applySetpoint(sp) };
  }
}
