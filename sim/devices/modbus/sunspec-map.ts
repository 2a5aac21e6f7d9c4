import { encodeNumber, encodeString, registerCount, sunspecSentinel } from '../../../adapters/modbus/codec.js';
import { SUNSPEC_MODELS, type SunSpecModel, type SunSpecPoint } from '../../../adapters/modbus/sunspec/models.js';
import type { UnitMemory } from './server.js';

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
    const model = SUNSPEC_MODELS.get(modelId);
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
  private readonly points = new Map<string, SunSpecPoint>();

  constructor(
    private readonly unit: UnitMemory,
    readonly model: SunSpecModel,
    /** Register of the model's ID. */
    readonly address: number,
  ) {
    unit.set('holding', address, [model.id, model.length, ...new Array<number>(model.length).fill(0)]);
    for (const pt of model.points) {
      this.points.set(pt.name, pt);
      unit.set('holding', address + pt.offset, sunspecSentinel(pt.type, pt.length));
      if (pt.writable) unit.allowWrite(address + pt.offset, registerCount(pt.type, pt.length));
    }
  }

  point(name: string): SunSpecPoint {
    const pt = this.points.get(name);
    if (!pt) throw new Error(`model ${this.model.id} has no point ${name}`);
    return pt;
  }

  addressOf(name: string): number {
    return this.address + this.point(name).offset;
  }

  setRaw(name: string, raw: number): void {
    const pt = this.point(name);
    this.unit.set('holding', this.address + pt.offset, encodeNumber(raw, pt.type));
  }

  getRaw(name: string): number[] {
    const pt = this.point(name);
    return this.unit.get('holding', this.address + pt.offset, registerCount(pt.type, pt.length)) ?? [];
  }

  /** Mark a point "not implemented". */
  clear(name: string): void {
    const pt = this.point(name);
    this.unit.set('holding', this.address + pt.offset, sunspecSentinel(pt.type, pt.length));
  }

  setString(name: string, text: string): void {
    const pt = this.point(name);
    this.unit.set('holding', this.address + pt.offset, encodeString(text, pt.length ?? 1));
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
    const sentinel = sunspecSentinel(pt.type, pt.length);
    if (pt.type !== 'acc32' && regs.every((r, i) => r === sentinel[i])) return undefined;
    const buf = Buffer.alloc(regs.length * 2);
    regs.forEach((r, i) => {
      buf.writeUInt16BE(r, i * 2);
    });
    let raw: number;
    if (pt.type === 'int16' || pt.type === 'sunssf') raw = buf.readInt16BE(0);
    else if (pt.type === 'int32') raw = buf.readInt32BE(0);
    else if (registerCount(pt.type) === 2) raw = buf.readUInt32BE(0);
    else raw = buf.readUInt16BE(0);
    if (!pt.sf) return raw;
    const sf = this.value(pt.sf);
    return sf === undefined ? undefined : raw * 10 ** sf;
  }
}
