import type { Clock } from '../../../src/model/clock.js';
import type { SitePhysics } from '../../site/physics.js';
import { type DeviceHabits, ModbusSimException, ModbusSimServer, habitsOf } from './server.js';
import { SiteLoad } from './site-load.js';
import { SunSpecMapBuilder, type SunSpecBlock } from './sunspec-map.js';

/** Device habits (one client only, response time) are the server's options. */
export interface SunSpecSimOptions extends DeviceHabits {
  readonly physics: SitePhysics;
  readonly host?: string;
  /** 0 = any free port; read back from `port`. */
  readonly port?: number;
  readonly unitId?: number;
  /** Needed for `responseDelayMs`. */
  readonly clock?: Clock;
  /** Base of the SunSpec map (40000, 0 or 50000). */
  readonly base?: number;
  readonly serial?: string;
  /** `rtu`: RTU frames over the TCP socket (behind a serial-to-TCP converter, or bridged to a pty). */
  readonly framing?: 'tcp' | 'rtu';
}

/** Common behaviour of the SunSpec simulators: one server, one unit, model 1 first. */
abstract class SunSpecSim {
  /** What a subclass runs beside the server (started first, stopped first). */
  protected readonly parts: { start(): void; stop(): void }[] = [];
  readonly server: ModbusSimServer;
  readonly unitId: number;
  readonly common: SunSpecBlock;
  private readonly blocks = new Map<number, SunSpecBlock>();

  /** `models`: the SunSpec models after the common model, in map order. */
  constructor(
    protected readonly o: SunSpecSimOptions,
    model: string,
    models: readonly number[],
  ) {
    this.server = new ModbusSimServer({
      host: o.host ?? '127.0.0.1',
      port: o.port ?? 0,
      framing: o.framing ?? 'tcp',
      ...habitsOf(o),
    });
    this.unitId = o.unitId ?? 1;
    const unit = this.server.unit(this.unitId);
    const map = new SunSpecMapBuilder(unit, o.base ?? 40000);
    this.common = map.add(1);
    for (const id of models) this.blocks.set(id, map.add(id));
    map.end();
    this.common.setString('Mn', 'gridkeeper-sim');
    this.common.setString('Md', model);
    this.common.setString('Vr', '1.0.0');
    this.common.setString('SN', o.serial ?? `${model}-${this.unitId}`);
    this.common.setRaw('DA', this.unitId);
    unit.hooks.beforeRead = () => this.refresh();
  }

  /** The block of one of this device's models. */
  protected model(id: number): SunSpecBlock {
    const b = this.blocks.get(id);
    if (!b) throw new Error(`model ${id} not in this device`);
    return b;
  }

  get port(): number {
    return this.server.port;
  }

  get host(): string {
    return this.server.host;
  }

  get unit() {
    return this.server.unit(this.unitId);
  }

  async start(): Promise<void> {
    for (const p of this.parts) p.start();
    await this.server.start();
  }

  async stop(): Promise<void> {
    for (const p of this.parts) p.stop();
    await this.server.stop();
  }

  /** Copy the physics into the registers; called before every read. */
  protected abstract refresh(): void;
}

/** Grid meter: models 1 + 203 (wye). W + = import, as SunSpec meters report it. */
export class SunSpecMeterSim extends SunSpecSim {
  readonly meter: SunSpecBlock;
  /** Freeze the registers (tests that set raw values by hand). */
  frozen = false;

  constructor(o: SunSpecSimOptions) {
    super(o, 'meter-203', [203]);
    this.meter = this.model(203);
    this.refresh();
  }

  protected refresh(): void {
    if (this.frozen) return;
    const p = this.o.physics;
    const w = p.gridPowerW();
    const [a1, a2, a3] = p.gridCurrentsA();
    this.meter.setAuto('W_SF', { W: w, WphA: w / 3, WphB: w / 3, WphC: w / 3 }, 0);
    this.meter.setAuto('A_SF', { A: a1 + a2 + a3, AphA: a1, AphB: a2, AphC: a3 }, -2);
    this.meter.setAuto('V_SF', { PhV: p.voltageV, PhVphA: p.voltageV, PhVphB: p.voltageV, PhVphC: p.voltageV }, -1);
    this.meter.setScaled('Hz', 50, -2);
    this.meter.setAuto('TotWh_SF', { TotWhImp: p.importWh, TotWhExp: p.exportWh }, 0);
  }
}

/** PV inverter: models 1 + 103 (three phase). */
export class SunSpecInverterSim extends SunSpecSim {
  readonly inverter: SunSpecBlock;

  constructor(o: SunSpecSimOptions) {
    super(o, 'inverter-103', [103]);
    this.inverter = this.model(103);
    this.refresh();
  }

  protected refresh(): void {
    const p = this.o.physics;
    const w = Math.max(0, p.pvPowerW());
    const a = w / (3 * p.voltageV);
    this.inverter.setAuto('W_SF', { W: w }, 0);
    this.inverter.setAuto('A_SF', { A: 3 * a, AphA: a, AphB: a, AphC: a }, -2);
    this.inverter.setAuto('WH_SF', { WH: p.pvWh }, 0);
    // St: 4 = MPPT (producing), 2 = sleeping.
    this.inverter.setRaw('St', w > 0 ? 4 : 2);
  }
}

export interface SunSpecBatterySimOptions extends SunSpecSimOptions {
  readonly clock: Clock;
  readonly id?: string;
  readonly capacityWh?: number;
  readonly maxChargeW?: number;
  readonly socPct?: number;
  readonly stepMs?: number;
}

/**
 * Stationary battery: models 1 + 124 + 802. Accepts charge / discharge
 * set-points through model 124 (StorCtl_Mod, InWRte / OutWRte in % of
 * WChaMax) and reverts to idle after InOutWRte_RvrtTms seconds without a
 * new write, so a dead gateway cannot leave it discharging. 802 W is
 * reported + charging. Its draw is reported to the site physics.
 */
export class SunSpecBatterySim extends SunSpecSim {
  readonly storage: SunSpecBlock;
  readonly battery: SunSpecBlock;
  private readonly id: string;
  private readonly capacityWh: number;
  private readonly maxW: number;
  private energyWh: number;
  private powerW = 0;
  private readonly load: SiteLoad;
  /** Writes accepted (tests). */
  writes = 0;

  constructor(b: SunSpecBatterySimOptions) {
    super(b, 'battery-802', [124, 802]);
    this.id = b.id ?? 'battery';
    this.capacityWh = b.capacityWh ?? 100_000;
    this.maxW = b.maxChargeW ?? 50_000;
    this.energyWh = (this.capacityWh * (b.socPct ?? 50)) / 100;
    this.load = new SiteLoad({ ...b, id: this.id, step: (dtH) => this.step(dtH) });
    this.parts.push(this.load);
    this.storage = this.model(124);
    this.battery = this.model(802);
    this.storage.setScaled('WChaMax', this.maxW, 1);
    this.storage.setRaw('InOutWRte_SF', -1);
    this.storage.setRaw('StorCtl_Mod', 0);
    this.storage.setRaw('InWRte', 0);
    this.storage.setRaw('OutWRte', 0);
    this.storage.setRaw('InOutWRte_RvrtTms', 0);
    this.storage.setRaw('ChaState_SF', -1);
    this.battery.setScaled('WHRtg', this.capacityWh, 1);
    this.battery.setScaled('WChaRteMax', this.maxW, 1);
    this.battery.setScaled('WDisChaRteMax', this.maxW, 1);
    this.battery.setRaw('SetOp', 1);
    this.unit.hooks.onWrite = (addr, values) => this.onWrite(addr, values);
    this.refresh();
  }

  get socPct(): number {
    return (100 * this.energyWh) / this.capacityWh;
  }

  /** Power the battery draws now, W (+ charging). */
  get currentPowerW(): number {
    return this.powerW;
  }

  private onWrite(addr: number, values: readonly number[]): void {
    const ctl = this.storage.addressOf('StorCtl_Mod');
    const inW = this.storage.addressOf('InWRte');
    const outW = this.storage.addressOf('OutWRte');
    const touched = (a: number) => addr <= a && a < addr + values.length;
    for (const name of ['InWRte', 'OutWRte'] as const) {
      const v = this.storage.value(name);
      if (v !== undefined && (v < -100 || v > 100)) throw new ModbusSimException(3);
    }
    this.writes++;
    if (touched(ctl) || touched(inW) || touched(outW)) this.armRevert();
    this.applyControl();
  }

  private armRevert(): void {
    this.load.armRevert(this.storage.value('InOutWRte_RvrtTms') ?? 0, () => {
      this.storage.setRaw('StorCtl_Mod', 0);
      this.applyControl();
    });
  }

  private applyControl(): void {
    const mode = this.storage.value('StorCtl_Mod') ?? 0;
    const maxW = this.storage.value('WChaMax') ?? this.maxW;
    const inPct = this.storage.value('InWRte') ?? 0;
    const outPct = this.storage.value('OutWRte') ?? 0;
    const connected = this.battery.value('SetOp') !== 2;
    let w = 0;
    if (connected && mode & 1 && inPct > 0) w = (maxW * inPct) / 100;
    else if (connected && mode & 2 && outPct > 0) w = -(maxW * outPct) / 100;
    if (w > 0 && this.energyWh >= this.capacityWh) w = 0;
    if (w < 0 && this.energyWh <= 0) w = 0;
    this.powerW = w;
    const a = w / (3 * this.o.physics.voltageV);
    this.o.physics.setLoad(this.id, w, [a, a, a]);
  }

  private step(dtH: number): void {
    this.energyWh = Math.min(this.capacityWh, Math.max(0, this.energyWh + this.powerW * dtH));
    this.applyControl();
  }

  protected refresh(): void {
    if (!this.battery) return; // called from the base constructor before the models exist
    const soc = this.socPct;
    this.storage.setScaled('ChaState', soc, -1);
    // ChaSt: 3 = empty, 4 = discharging, 5 = charging, 6 = full, 7 = holding.
    const st = soc >= 99.9 ? 6 : soc <= 0.1 ? 3 : this.powerW > 0 ? 5 : this.powerW < 0 ? 4 : 7;
    this.storage.setRaw('ChaSt', st);
    this.battery.setRaw('ChaSt', st);
    this.battery.setScaled('SoC', soc, -1);
    this.battery.setScaled('SoH', 98, 0);
    this.battery.setScaled('V', 800, -1);
    this.battery.setAuto('W_SF', { W: this.powerW }, 0);
    this.battery.setAuto('A_SF', { A: this.powerW / 800 }, -1);
  }
}
