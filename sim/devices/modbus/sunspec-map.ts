import { decodeRaw, encodeRaw, encodeText, isNotImplemented, notImplemented, wordsOf } from './registers.js';
import type { UnitMemory } from './server.js';
import { SIM_SUNSPEC_MODELS, type SimSunSpecModel, type SimSunSpecPoint } from './sunspec-models.js';

/**
 * Lays out a SunSpec register map in a simulated unit: `SunS`, the models in
 * order, the 0xFFFF end model. Points start as "not implemented" so a
 * simulator only fills what it really has, like a real device.
 */
export class SunSpecMapBuilder {
  private next: number;
  private closed = false;

  constructor(
    private readonly unit: UnitMemory,
    readonly base = 40000,
  ) {
    unit.set('holding', base, [0x5375, 0x6e53]);
    this.next = base + 2;
  }

  add(modelId: number): SunSpecBlock {
    if (this.closed) throw new Error('SunSpec map already closed');
    const model = SIM_SUNSPEC_MODELS.get(modelId);
    if (!model) throw new Error(`unknown SunSpec model ${modelId}`);
    const block = new SunSpecBlock(this.unit, model, this.next);
    this.next += 2 + model.length;
    return block;
  }

  end(): void {
    this.unit.set('holding', this.next, [0xffff, 0]);
    this.closed = true;
  }
}

export class SunSpecBlock {
  private readonly points = new Map<string, SimSunSpecPoint>();

  constructor(
    private readonly unit: UnitMemory,
    readonly model: SimSunSpecModel,
    /** Register of the model's ID. */
    readonly address: number,
  ) {
    unit.set('holding', address, [model.id, model.length, ...new Array<number>(model.length).fill(0)]);
    for (const pt of model.points) {
      this.points.set(pt.name, pt);
      unit.set('holding', address + pt.offset, notImplemented(pt.type, pt.length));
      if (pt.writable) unit.allowWrite(address + pt.offset, wordsOf(pt.type, pt.length));
    }
  }

  point(name: string): SimSunSpecPoint {
    const pt = this.points.get(name);
    if (!pt) throw new Error(`model ${this.model.id} has no point ${name}`);
    return pt;
  }

  addressOf(name: string): number {
    return this.address + this.point(name).offset;
  }

  setRaw(name: string, raw: number): void {
    const pt = this.point(name);
    this.unit.set('holding', this.address + pt.offset, encodeRaw(pt.type, raw));
  }

  getRaw(name: string): number[] {
    const pt = this.point(name);
    return this.unit.get('holding', this.address + pt.offset, wordsOf(pt.type, pt.length)) ?? [];
  }

  /** Mark a point "not implemented". */
  clear(name: string): void {
    const pt = this.point(name);
    this.unit.set('holding', this.address + pt.offset, notImplemented(pt.type, pt.length));
  }

  setString(name: string, text: string): void {
    const pt = this.point(name);
    this.unit.set('holding', this.address + pt.offset, encodeText(text, pt.length ?? 1));
  }

  /** Write an engineering value with the given scale factor (and the scale factor itself). */
  setScaled(name: string, value: number, sf: number): void {
    const pt = this.point(name);
    if (pt.sf) this.setRaw(pt.sf, sf);
    this.setRaw(name, value / 10 ** sf);
  }

  /**
   * Write several values sharing one scale factor, choosing the finest
   * factor (>= `minSf`) at which all of them fit the register type. Real
   * meters change their factors at run time too.
   */
  setAuto(sfName: string, values: Record<string, number>, minSf = -2): void {
    const names = Object.keys(values);
    const first = this.point(names[0] as string);
    const max = first.type === 'uint16' ? 0xfffe : first.type === 'acc32' ? 0xfffffffe : 0x7fff;
    let sf = minSf;
    const biggest = Math.max(...names.map((n) => Math.abs(values[n] as number)));
    while (sf < 6 && biggest / 10 ** sf > max) sf++;
    this.setRaw(sfName, sf);
    for (const n of names) this.setRaw(n, (values[n] as number) / 10 ** sf);
  }

  /** Decoded engineering value of a point, for simulator logic reading its own set-points. */
  value(name: string): number | undefined {
    const pt = this.point(name);
    const regs = this.getRaw(name);
    if (isNotImplemented(pt.type, regs)) return undefined;
    const raw = decodeRaw(pt.type, regs);
    if (!pt.sf) return raw;
    const sf = this.value(pt.sf);
    return sf === undefined ? undefined : raw * 10 ** sf;
  }
}
