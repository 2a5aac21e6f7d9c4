import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import type { Clock, TimerHandle } from '../../src/model/clock.js';
import type { PhaseValues } from '../../src/model/site.js';
import type { Activity } from './activity.js';

/** What one meter measures now. */
export interface MeterReading {
  /** Active power, W: + import (or production for a PV meter). */
  readonly powerW: number;
  readonly currentsA: PhaseValues;
  readonly importWh: number;
  readonly exportWh: number;
}

export interface MeterServerOptions {
  readonly voltageV: number;
  readonly clock: Clock;
  /** Time the meter (behind its RS-485 to TCP gateway) takes to answer, ms. */
  readonly latencyMs?: number;
  /** The reading of the meter at a Modbus unit id; undefined: no such unit. */
  readonly read: (unitId: number) => MeterReading | undefined;
  readonly activity?: Activity;
}

/** Eastron SDM630 input registers (FC04), IEEE 754 float32, high word first. */
const REG = {
  voltage: 0x0000,
  current: 0x0006,
  totalPower: 0x0034,
  frequency: 0x0046,
  importKwh: 0x0048,
  exportKwh: 0x004a,
} as const;
const SIZE = 0x0050;

function putFloat(regs: number[], addr: number, value: number): void {
  const b = Buffer.alloc(4);
  b.writeFloatBE(value);
  regs[addr] = b.readUInt16BE(0);
  regs[addr + 1] = b.readUInt16BE(2);
}

/** The register image of an SDM630 for a reading; phase currents are magnitudes, as the meter shows them. */
export function sdm630Registers(r: MeterReading, voltageV: number): number[] {
  const regs = new Array<number>(SIZE).fill(0);
  for (let p = 0; p < 3; p++) {
    putFloat(regs, REG.voltage + 2 * p, voltageV);
    putFloat(regs, REG.current + 2 * p, Math.abs(r.currentsA[p] ?? 0));
  }
  putFloat(regs, REG.totalPower, r.powerW);
  putFloat(regs, REG.frequency, 50);
  putFloat(regs, REG.importKwh, r.importWh / 1000);
  putFloat(regs, REG.exportKwh, r.exportWh / 1000);
  return regs;
}

/** A Modbus exception PDU. */
function exception(fc: number, code: number): Buffer {
  return Buffer.from([(fc | 0x80) & 0xff, code]);
}

/**
 * Eastron SDM630 meters behind one Modbus TCP gateway (one unit id each),
 * with our own MBAP framing and register encoding: the gateway's Modbus
 * client (modbus-serial) is checked against a server it did not write.
 * Each request is parsed as it arrives and answered after the meter's
 * latency on the (virtual) clock, with the value measured at that moment.
 * (modbus-serial's own server parsed every request on a real setTimeout(0),
 * a millisecond of wall time per poll the harness had to spin through.)
 */
export class MeterServer {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<TimerHandle>();

  constructor(private readonly opts: MeterServerOptions) {}

  get port(): number {
    const addr = this.server?.address() as AddressInfo | null | undefined;
    return addr?.port ?? 0;
  }

  async start(): Promise<void> {
    const server = createServer((sock) => this.accept(sock));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  private accept(sock: Socket): void {
    this.sockets.add(sock);
    sock.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 8) {
        const len = buf.readUInt16BE(4);
        if (len < 2 || len > 254) {
          sock.destroy();
          return;
        }
        if (buf.length < 6 + len) break;
        this.request(sock, buf.subarray(0, 6 + len));
        buf = buf.subarray(6 + len);
      }
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => this.sockets.delete(sock));
  }

  /** One MBAP frame: FC04 reads are answered after the latency; anything else is refused (exception 1). */
  private request(sock: Socket, frame: Buffer): void {
    this.opts.activity?.bump();
    const head = Buffer.from(frame.subarray(0, 7));
    const fc = frame.readUInt8(7);
    const reply = (pdu: Buffer) => {
      head.writeUInt16BE(pdu.length + 1, 4);
      if (!sock.destroyed) sock.write(Buffer.concat([head, pdu]));
      this.opts.activity?.bump();
    };
    const length = frame.length >= 12 ? frame.readUInt16BE(10) : 0;
    if (fc !== 4 || length < 1 || length > 125) {
      reply(exception(fc, fc !== 4 ? 1 : 3));
      return;
    }
    const unitId = frame.readUInt8(6);
    const addr = frame.readUInt16BE(8);
    const t = this.opts.clock.setTimeout(() => {
      this.timers.delete(t);
      const r = this.opts.read(unitId);
      // Gateway target device failed to respond: the answer of an RS-485 gateway for a missing unit.
      if (!r) {
        reply(exception(fc, 0x0b));
        return;
      }
      const regs = sdm630Registers(r, this.opts.voltageV);
      const pdu = Buffer.alloc(2 + 2 * length);
      pdu.writeUInt8(fc, 0);
      pdu.writeUInt8(2 * length, 1);
      for (let i = 0; i < length; i++) pdu.writeUInt16BE(regs[addr + i] ?? 0, 2 + 2 * i);
      reply(pdu);
    }, this.opts.latencyMs ?? 40);
    this.timers.add(t);
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const t of this.timers) this.opts.clock.clearTimeout(t);
    this.timers.clear();
    for (const sock of this.sockets) sock.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
