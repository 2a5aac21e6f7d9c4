import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import type { Clock, TimerHandle } from '../../../src/model/clock.js';

/**
 * A small Modbus server for the simulators: holding and input registers,
 * FC03/04/06/16, exception responses, several unit ids behind one port
 * (like an RTU gateway). Framing is Modbus TCP (MBAP) or RTU-over-TCP (CRC),
 * the latter to exercise the RTU code path without serial hardware.
 *
 * Written by hand rather than on modbus-serial's ServerTCP so that tests can
 * control exactly what goes on the wire: exception codes per request, units
 * that stay silent, response delays, a device that takes one client only.
 */

/** Thrown from a hook to answer with a Modbus exception. */
export class ModbusSimException extends Error {
  constructor(readonly code: number) {
    super(`modbus exception ${code}`);
  }
}

export type Table = 'holding' | 'input';

export interface UnitHooks {
  /** Called before a read is served, so a simulator can refresh values from its physics. */
  beforeRead?(table: Table, address: number, count: number): void;
  /** Called after a write was stored; throw ModbusSimException to refuse. */
  onWrite?(address: number, values: readonly number[]): void;
}

/** Register memory of one unit id. Unmapped addresses answer exception 2. */
export class UnitMemory {
  private readonly tables: Record<Table, Map<number, number>> = { holding: new Map(), input: new Map() };
  private readonly writable = new Set<number>();
  hooks: UnitHooks = {};
  /** While true the unit never answers (an unplugged device behind a gateway). */
  silent = false;
  /** Answer every request with this exception code (a device in fault). */
  forceException?: number;

  set(table: Table, address: number, values: readonly number[]): void {
    const t = this.tables[table];
    values.forEach((v, i) => {
      t.set(address + i, v & 0xffff);
    });
  }

  get(table: Table, address: number, count: number): number[] | undefined {
    const t = this.tables[table];
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      const v = t.get(address + i);
      if (v === undefined) return undefined;
      out.push(v);
    }
    return out;
  }

  /** Allow FC06/FC16 on `count` holding registers from `address`. */
  allowWrite(address: number, count = 1): void {
    for (let i = 0; i < count; i++) this.writable.add(address + i);
  }

  canWrite(address: number, count: number): boolean {
    for (let i = 0; i < count; i++) if (!this.writable.has(address + i)) return false;
    return true;
  }
}

export interface ModbusSimServerOptions {
  readonly host?: string;
  /** 0 picks a free port; read it back from `port` after start(). */
  readonly port?: number;
  readonly framing?: 'tcp' | 'rtu';
  /** Unknown unit ids: answer exception 11 (gateway target failed) or stay silent. */
  readonly unknownUnit?: 'exception' | 'ignore';
  /** Refuse connections beyond this many (many inverters accept one TCP client only). */
  readonly maxConnections?: number;
  /**
   * What a full device does with one more client: `refuse` closes the new
   * socket (default), `replace` drops the oldest client and serves the new
   * one, as some inverters do. Either way one of the two clients loses.
   */
  readonly whenFull?: 'refuse' | 'replace';
  /**
   * Time a real device takes to answer, ms (a meter's processor, an RTU
   * gateway's serial round trip): a number, or a function for jitter.
   * Needs `clock`, so the delay runs on the same (virtual) time as the test.
   * Requests on one connection are worked off one after another, as a
   * device's single processor does, so answers never overtake each other.
   */
  readonly responseDelayMs?: number | (() => number);
  readonly clock?: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>;
}

export class ModbusSimServer {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly units = new Map<number, UnitMemory>();
  /** Requests served (tests and benchmarks). */
  requests = 0;

  private readonly pending = new Set<TimerHandle>();
  /** When each connection's device is free again (with a response time). */
  private readonly busyUntil = new WeakMap<Socket, number>();

  constructor(private readonly opts: ModbusSimServerOptions = {}) {
    if (opts.responseDelayMs !== undefined && !opts.clock) {
      throw new Error('modbus sim server: responseDelayMs needs a clock');
    }
  }

  unit(id: number): UnitMemory {
    let u = this.units.get(id);
    if (!u) {
      u = new UnitMemory();
      this.units.set(id, u);
    }
    return u;
  }

  get port(): number {
    const addr = this.server?.address() as AddressInfo | null | undefined;
    if (!addr) throw new Error('modbus sim server not started');
    return addr.port;
  }

  get host(): string {
    return this.opts.host ?? '127.0.0.1';
  }

  async start(): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const t of this.pending) this.opts.clock?.clearTimeout(t);
    this.pending.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Drop every open client connection (a device rebooting) while still listening. */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Clients refused (or displaced, with `whenFull: replace`) because of `maxConnections` (tests). */
  refused = 0;

  private accept(socket: Socket): void {
    if (this.opts.maxConnections !== undefined && this.sockets.size >= this.opts.maxConnections) {
      this.refused++;
      if (this.opts.whenFull !== 'replace') {
        socket.destroy();
        return;
      }
      const oldest = this.sockets.values().next().value;
      oldest?.destroy();
      if (oldest) this.sockets.delete(oldest);
    }
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      buf = this.opts.framing === 'rtu' ? this.consumeRtu(socket, buf) : this.consumeTcp(socket, buf);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }

  private consumeTcp(socket: Socket, input: Buffer): Buffer {
    let buf = input;
    while (buf.length >= 7) {
      const len = buf.readUInt16BE(4);
      if (len < 2 || len > 254) {
        // Not Modbus: a peer sending garbage is dropped rather than parsed forever.
        socket.destroy();
        return Buffer.alloc(0);
      }
      if (buf.length < 6 + len) break;
      const tid = buf.readUInt16BE(0);
      const unitId = buf.readUInt8(6);
      const pdu = buf.subarray(7, 6 + len);
      buf = buf.subarray(6 + len);
      const resp = this.handle(unitId, pdu);
      if (!resp) continue;
      const head = Buffer.alloc(7);
      head.writeUInt16BE(tid, 0);
      head.writeUInt16BE(0, 2);
      head.writeUInt16BE(resp.length + 1, 4);
      head.writeUInt8(unitId, 6);
      this.reply(socket, Buffer.concat([head, resp]));
    }
    return buf;
  }

  private consumeRtu(socket: Socket, input: Buffer): Buffer {
    let buf = input;
    while (buf.length >= 8) {
      const fc = buf.readUInt8(1);
      let frameLen = 8;
      if (fc === 16) {
        if (buf.length < 7) break;
        frameLen = 9 + buf.readUInt8(6);
      }
      if (buf.length < frameLen) break;
      const frame = buf.subarray(0, frameLen);
      buf = buf.subarray(frameLen);
      if (crc16(frame.subarray(0, frameLen - 2)) !== frame.readUInt16LE(frameLen - 2)) continue; // noise: no reply
      const unitId = frame.readUInt8(0);
      const resp = this.handle(unitId, frame.subarray(1, frameLen - 2));
      if (!resp) continue;
      const body = Buffer.concat([Buffer.from([unitId]), resp]);
      const crc = Buffer.alloc(2);
      crc.writeUInt16LE(crc16(body), 0);
      this.reply(socket, Buffer.concat([body, crc]));
    }
    return buf;
  }

  /** Send an answer, after the device's response time when it has one. */
  private reply(socket: Socket, frame: Buffer): void {
    const d = this.opts.responseDelayMs;
    const ms = typeof d === 'function' ? d() : (d ?? 0);
    const clock = this.opts.clock;
    if (ms <= 0 || !clock) {
      socket.write(frame);
      return;
    }
    const now = clock.now();
    const at = Math.max(now, this.busyUntil.get(socket) ?? now) + ms;
    this.busyUntil.set(socket, at);
    const t = clock.setTimeout(() => {
      this.pending.delete(t);
      if (!socket.destroyed) socket.write(frame);
    }, at - now);
    this.pending.add(t);
  }

  /** Serve one PDU; undefined = no answer. */
  private handle(unitId: number, pdu: Buffer): Buffer | undefined {
    this.requests++;
    const fc = pdu.readUInt8(0);
    const unit = this.units.get(unitId);
    if (!unit) return this.opts.unknownUnit === 'ignore' ? undefined : exception(fc, 11);
    if (unit.silent) return undefined;
    if (unit.forceException !== undefined) return exception(fc, unit.forceException);
    try {
      switch (fc) {
        case 3:
        case 4: {
          if (pdu.length < 5) return exception(fc, 3);
          const addr = pdu.readUInt16BE(1);
          const count = pdu.readUInt16BE(3);
          if (count < 1 || count > 125) return exception(fc, 3);
          const table: Table = fc === 3 ? 'holding' : 'input';
          unit.hooks.beforeRead?.(table, addr, count);
          const regs = unit.get(table, addr, count);
          if (!regs) return exception(fc, 2);
          const out = Buffer.alloc(2 + count * 2);
          out.writeUInt8(fc, 0);
          out.writeUInt8(count * 2, 1);
          regs.forEach((r, i) => {
            out.writeUInt16BE(r, 2 + i * 2);
          });
          return out;
        }
        case 6: {
          if (pdu.length < 5) return exception(fc, 3);
          const addr = pdu.readUInt16BE(1);
          const value = pdu.readUInt16BE(3);
          if (!unit.canWrite(addr, 1)) return exception(fc, 2);
          this.write(unit, addr, [value]);
          return Buffer.from(pdu.subarray(0, 5));
        }
        case 16: {
          if (pdu.length < 6) return exception(fc, 3);
          const addr = pdu.readUInt16BE(1);
          const count = pdu.readUInt16BE(3);
          const bytes = pdu.readUInt8(5);
          if (count < 1 || count > 123 || bytes !== count * 2 || pdu.length < 6 + bytes) return exception(fc, 3);
          if (!unit.canWrite(addr, count)) return exception(fc, 2);
          const values: number[] = [];
          for (let i = 0; i < count; i++) values.push(pdu.readUInt16BE(6 + i * 2));
          this.write(unit, addr, values);
          return Buffer.from(pdu.subarray(0, 5));
        }
        default:
          return exception(fc, 1);
      }
    } catch (err) {
      if (err instanceof ModbusSimException) return exception(fc, err.code);
      return exception(fc, 4);
    }
  }

  private write(unit: UnitMemory, addr: number, values: number[]): void {
    const before = unit.get('holding', addr, values.length);
    unit.set('holding', addr, values);
    try {
      unit.hooks.onWrite?.(addr, values);
    } catch (err) {
      // A refused write leaves the registers as they were, as a real device would.
      if (before) unit.set('holding', addr, before);
      throw err;
    }
  }
}

/** The device habits of a simulator's options, for its server. */
export type DeviceHabits = Pick<ModbusSimServerOptions, 'maxConnections' | 'whenFull' | 'responseDelayMs' | 'clock'>;

export function habitsOf(o: DeviceHabits): DeviceHabits {
  return {
    ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}),
    ...(o.whenFull ? { whenFull: o.whenFull } : {}),
    ...(o.responseDelayMs !== undefined ? { responseDelayMs: o.responseDelayMs } : {}),
    ...(o.clock ? { clock: o.clock } : {}),
  };
}

function exception(fc: number, code: number): Buffer {
  return Buffer.from([(fc | 0x80) & 0xff, code]);
}

/** Modbus RTU CRC-16 (poly 0xA001, init 0xFFFF). */
export function crc16(buf: Buffer): number {
  let crc = 0xffff;
  for (const b of buf) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}
