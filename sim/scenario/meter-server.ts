import { createServer } from 'node:net';
import ModbusSerial from 'modbus-serial';
import type { Clock } from '../../src/model/clock.js';
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

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Eastron SDM630 meters behind one Modbus TCP gateway (one unit id each),
 * built on modbus-serial's server with our own register encoding: the
 * gateway's Modbus codec is checked against an encoding it did not write.
 */
export class MeterServer {
  private server?: InstanceType<typeof ModbusSerial.ServerTCP>;
  private portNo = 0;
  private inFlight = 0;

  constructor(private readonly opts: MeterServerOptions) {}

  get port(): number {
    return this.portNo;
  }

  async start(): Promise<void> {
    const host = '127.0.0.1';
    this.portNo = await freePort(host);
    const noUnit = () => Object.assign(new Error('no such unit'), { modbusErrorCode: 0x0b });
    const vector = {
      // Four parameters: modbus-serial then waits for the callback, which comes after the
      // meter's latency on the (virtual) clock, with the value measured at that moment.
      getMultipleInputRegisters: (
        addr: number,
        length: number,
        unitId: number,
        cb: (err: Error | null, values: number[]) => void,
      ): void => {
        this.answered();
        this.opts.clock.setTimeout(() => {
          const r = this.opts.read(unitId);
          if (!r) cb(noUnit(), []);
          else {
            const regs = sdm630Registers(r, this.opts.voltageV);
            cb(
              null,
              Array.from({ length }, (_, i) => regs[addr + i] ?? 0),
            );
          }
          this.opts.activity?.bump();
        }, this.opts.latencyMs ?? 40);
      },
      getInputRegister: (addr: number, unitId: number): number => {
        this.answered();
        const r = this.opts.read(unitId);
        if (!r) throw noUnit();
        return sdm630Registers(r, this.opts.voltageV)[addr] ?? 0;
      },
    };
    await new Promise<void>((resolve, reject) => {
      const server = new ModbusSerial.ServerTCP(vector, { host, port: this.portNo, unitID: 255 });
      server.on('initialized', () => resolve());
      server.on('serverError', reject);
      server.on('socketError', () => {});
      server.on('error', () => {});
      // modbus-serial parses each request on a real setTimeout(0): the harness must
      // know a request is waiting, or virtual time would run past it.
      const net = (server as unknown as { _server?: import('node:net').Server })._server;
      net?.on('connection', (sock) => {
        sock.on('data', () => {
          this.inFlight++;
          if (this.opts.activity) this.opts.activity.pending++;
        });
        sock.on('close', () => this.answered(this.inFlight));
      });
      this.server = server;
    });
  }

  private answered(n = 1): void {
    const done = Math.min(n, this.inFlight);
    this.inFlight -= done;
    const a = this.opts.activity;
    if (a) {
      a.pending = Math.max(0, a.pending - done);
      a.bump();
    }
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const sock of s.socks.keys()) sock.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
