/**
 * An Eastron SDM630 grid meter on modbus-serial's ServerTCP for the reaction
 * bench. The register map and float32 encoding are written here from the
 * vendor's table (input registers, FC04, big-endian words), not taken from
 * the gateway's profile code. The value is computed at each read from the
 * site's power, so a step is visible to the very next poll; the first read
 * after a step is recorded so the poll's share of the reaction is known.
 */
import ModbusSerial from 'modbus-serial';
import { monoMs } from './clock.js';
import { freePort } from './ports.js';

const ServerTCP = ModbusSerial.ServerTCP;

const REG = {
  voltageL1: 0x0000,
  currentL1: 0x0006,
  totalPower: 0x0034,
  frequency: 0x0046,
  importKwh: 0x0048,
  exportKwh: 0x004a,
} as const;

function float32Words(x: number): [number, number] {
  const b = Buffer.alloc(4);
  b.writeFloatBE(x, 0);
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
}

export class MeterPeer {
  private server: InstanceType<typeof ServerTCP> | undefined;
  port = 0;
  private stepAt: number | undefined;
  /** monoMs() of the first read of the power register after the last step. */
  firstReadAfterStep: number | undefined;
  reads = 0;

  /** `powerW` is asked at every read: the site physics lives in the caller. */
  constructor(private readonly powerW: () => number) {}

  async start(): Promise<void> {
    this.port = await freePort();
    const server = new ServerTCP(
      {
        getMultipleInputRegisters: (addr: number, length: number) => this.read(addr, length),
        getInputRegister: (addr: number) => this.read(addr, 1)[0] ?? 0,
        getHoldingRegister: () => 0,
      },
      { host: '127.0.0.1', port: this.port, unitID: 1 },
    );
    await new Promise<void>((resolve, reject) => {
      server.on('initialized', () => resolve());
      server.on('serverError', reject);
    });
    server.on('socketError', () => {});
    this.server = server;
  }

  /** Marks a load step (the caller has changed what `powerW` returns). */
  markStep(): number {
    this.stepAt = monoMs();
    this.firstReadAfterStep = undefined;
    return this.stepAt;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private read(addr: number, length: number): number[] {
    this.reads++;
    const p = this.powerW();
    if (this.stepAt !== undefined && this.firstReadAfterStep === undefined) {
      if (addr <= REG.totalPower && addr + length > REG.totalPower) this.firstReadAfterStep = monoMs();
    }
    const map = new Map<number, number>();
    const put = (at: number, v: number) => {
      const [hi, lo] = float32Words(v);
      map.set(at, hi);
      map.set(at + 1, lo);
    };
    for (let i = 0; i < 3; i++) {
      put(REG.voltageL1 + 2 * i, 230);
      put(REG.currentL1 + 2 * i, p / 690);
    }
    put(REG.totalPower, p);
    put(REG.frequency, 50);
    put(REG.importKwh, 12_345.6);
    put(REG.exportKwh, 0);
    return Array.from({ length }, (_, i) => map.get(addr + i) ?? 0);
  }
}
