import type { GatewayBusPort } from '../../../src/ports/bus.js';
import type { SetpointSink } from '../../../src/model/adapter.js';
import type { Clock } from '../../../src/model/clock.js';
import type { Setpoint } from '../../../src/model/decision.js';
import { type Reading, reading } from '../../../src/model/reading.js';
import type { PhaseValues } from '../../../src/model/site.js';
import type { Logger } from '../../../src/util/logger.js';
import { encodeNumber } from '../codec.js';
import type { DeviceDriver, DeviceRole } from '../device.js';
import { ModbusConfirmError } from '../errors.js';
import type { ModbusLink } from '../link.js';
import {
  type DiscoveryResult,
  type ModelLocation,
  type PointValues,
  decodeModel,
  decodeModelStrings,
  discover,
  readModelRegisters,
} from './client.js';
import { SUNSPEC_MODELS, isInverterModel, isMeterModel } from './models.js';

export interface SunSpecDeviceOptions {
  readonly id: string;
  readonly role: DeviceRole;
  readonly unitId: number;
  readonly timeoutMs: number;
  readonly base?: number;
  readonly invertPower: boolean;
  readonly revertTimeoutS: number;
}

export interface SunSpecDeviceDeps {
  readonly link: ModbusLink;
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: GatewayBusPort;
}

/**
 * A SunSpec device in one of the roles grid meter, PV inverter or battery.
 * Discovers its models once per connection, then reads the role's model
 * blocks whole (values and scale factors in one request) every poll.
 */
export class SunSpecDevice implements DeviceDriver {
  discovery?: DiscoveryResult;
  info: Record<string, string> = {};
  private last: Record<string, number> = {};

  constructor(
    private readonly o: SunSpecDeviceOptions,
    private readonly d: SunSpecDeviceDeps,
  ) {}

  async init(): Promise<void> {
    const result = await discover(this.d.link, this.o.unitId, {
      timeoutMs: this.o.timeoutMs,
      ...(this.o.base !== undefined ? { bases: [this.o.base] } : {}),
    });
    this.discovery = result;
    const common = result.models.find((m) => m.id === 1);
    const def = SUNSPEC_MODELS.get(1);
    if (common && def) {
      this.info = decodeModelStrings(
        def,
        await readModelRegisters(this.d.link, this.o.unitId, common, this.o.timeoutMs),
      );
    }
    this.checkRole();
    this.d.log.info(
      { device: this.o.id, base: result.base, models: result.models.map((m) => m.id), ...this.info },
      'sunspec device discovered',
    );
  }

  /** Fails init when the device lacks the model its role needs (a wrong unit id or role in the config). */
  private checkRole(): void {
    const need: Record<DeviceRole, [string, (id: number) => boolean] | undefined> = {
      grid: ['a meter model (201-204)', isMeterModel],
      pv: ['an inverter model (101-103, 111-113)', isInverterModel],
      battery: ['a battery model (802 or 124)', (id) => id === 802 || id === 124],
      charger: undefined,
      load: ['a meter model (201-204)', isMeterModel],
    };
    const rule = need[this.o.role];
    if (rule && !this.find(rule[1])) {
      const ids = this.discovery?.models.map((m) => m.id).join(', ') ?? 'none';
      throw new Error(`${this.o.id}: role ${this.o.role} needs ${rule[0]}; device has models ${ids}`);
    }
  }

  find(pred: (id: number) => boolean): ModelLocation | undefined {
    return this.discovery?.models.find((m) => pred(m.id));
  }

  async readModel(loc: ModelLocation): Promise<PointValues> {
    const def = SUNSPEC_MODELS.get(loc.id);
    if (!def) throw new Error(`model ${loc.id} not supported`);
    return decodeModel(def, await readModelRegisters(this.d.link, this.o.unitId, loc, this.o.timeoutMs));
  }

  async poll(): Promise<void> {
    const now = () => this.d.clock.now();
    const sign = this.o.invertPower ? -1 : 1;
    const src = this.o.id;
    const r = <T>(v: T) => reading(v, now(), src);
    switch (this.o.role) {
      case 'grid':
      case 'load': {
        const m = await this.readModel(this.find(isMeterModel) as ModelLocation);
        if (this.o.role === 'load') return;
        const out: {
          powerW?: Reading<number>;
          currentsA?: Reading<PhaseValues>;
          importEnergyWh?: Reading<number>;
          exportEnergyWh?: Reading<number>;
        } = {};
        if (m.W !== undefined) out.powerW = r(sign * m.W);
        if (m.AphA !== undefined && m.AphB !== undefined && m.AphC !== undefined) {
          out.currentsA = r([m.AphA, m.AphB, m.AphC] as PhaseValues);
        } else if (m.AphA !== undefined && m.AphB === undefined) {
          out.currentsA = r([m.AphA, 0, 0] as PhaseValues);
        }
        if (m.TotWhImp !== undefined) out.importEnergyWh = r(m.TotWhImp);
        if (m.TotWhExp !== undefined) out.exportEnergyWh = r(m.TotWhExp);
        this.remember(out);
        this.d.bus.emit('grid', out);
        return;
      }
      case 'pv': {
        const m = await this.readModel(this.find(isInverterModel) as ModelLocation);
        const out: { powerW?: Reading<number>; energyWh?: Reading<number> } = {};
        if (m.W !== undefined) out.powerW = r(Math.max(0, sign * m.W));
        if (m.WH !== undefined) out.energyWh = r(m.WH);
        this.remember(out);
        this.d.bus.emit('pv', out);
        return;
      }
      case 'battery': {
        const b = this.find((id) => id === 802);
        const s = this.find((id) => id === 124);
        const bat = b ? await this.readModel(b) : {};
        const sto = s ? await this.readModel(s) : {};
        const out: { powerW?: Reading<number>; socPct?: Reading<number> } = {};
        if (bat.W !== undefined) out.powerW = r(sign * bat.W);
        const soc = bat.SoC ?? sto.ChaState;
        if (soc !== undefined) out.socPct = r(soc);
        this.remember(out);
        this.d.bus.emit('battery', out);
        return;
      }
      case 'charger':
        return;
    }
  }

  private remember(out: Record<string, Reading<unknown> | undefined>): void {
    for (const [k, v] of Object.entries(out)) if (typeof v?.value === 'number') this.last[k] = v.value;
  }

  markBad(): void {
    const ts = this.d.clock.now();
    const bad = (k: string) => reading(this.last[k] ?? 0, ts, this.o.id, 'bad');
    if (this.o.role === 'grid') this.d.bus.emit('grid', { powerW: bad('powerW') });
    else if (this.o.role === 'pv') this.d.bus.emit('pv', { powerW: bad('powerW') });
    else if (this.o.role === 'battery') this.d.bus.emit('battery', { powerW: bad('powerW'), socPct: bad('socPct') });
  }

  /**
   * Battery power set-point through model 124 (+ charge, - discharge, 0 idle),
   * with the revert timeout, confirmed by reading the block back.
   */
  async setBatteryPower(powerW: number): Promise<void> {
    const loc = this.find((id) => id === 124);
    if (!loc) throw new Error(`${this.o.id}: no storage control model 124`);
    const def = SUNSPEC_MODELS.get(124);
    if (!def) throw new Error('model 124 undefined');
    const regs = await readModelRegisters(this.d.link, this.o.unitId, loc, this.o.timeoutMs);
    const before = decodeModel(def, regs);
    const maxW = before.WChaMax;
    if (maxW === undefined || maxW <= 0)
      throw new Error(`${this.o.id}: WChaMax not implemented, cannot scale a set-point`);
    const sf = before.InOutWRte_SF ?? 0;
    const pct = Math.min(100, (Math.abs(powerW) / maxW) * 100);
    const raw = Math.round(pct / 10 ** sf);
    const mode = powerW > 0 ? 1 : powerW < 0 ? 2 : 0;
    const inW = powerW > 0 ? raw : 0;
    const outW = powerW < 0 ? raw : 0;
    const at = (name: string) => loc.address + (def.points.find((p) => p.name === name)?.offset ?? 0);
    // Rates and revert time first, the mode last: the device never runs a new mode with old rates.
    await this.d.link.write(
      this.o.unitId,
      at('OutWRte'),
      [...encodeNumber(outW, 'int16'), ...encodeNumber(inW, 'int16'), 0, this.o.revertTimeoutS],
      { timeoutMs: this.o.timeoutMs },
    );
    await this.d.link.write(this.o.unitId, at('StorCtl_Mod'), [mode], { timeoutMs: this.o.timeoutMs });
    const back = await readModelRegisters(this.d.link, this.o.unitId, loc, this.o.timeoutMs);
    const got = [back[5], back[12], back[13], back[15]];
    const want = [mode, encodeNumber(outW, 'int16')[0], encodeNumber(inW, 'int16')[0], this.o.revertTimeoutS];
    if (got.some((g, i) => g !== want[i])) {
      throw new ModbusConfirmError(`${this.o.id}: storage set-point read back ${got.join(',')} != ${want.join(',')}`);
    }
  }

  /** The battery as a dispatcher sink: `powerW` of the set-point is the battery power. */
  sink(): SetpointSink {
    return { applySetpoint: (sp: Setpoint) => this.setBatteryPower(sp.powerW) };
  }
}
