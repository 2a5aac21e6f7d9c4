import type { Clock } from '../../../src/model/clock.js';
import type { SitePhysics } from '../../site/physics.js';
import { ModbusChargerSim } from './charger-sim.js';
import { SunSpecBatterySim, SunSpecInverterSim, SunSpecMeterSim } from './sunspec-devices.js';

/**
 * One `modbus.devices` entry of the gateway's config, as plain data: the
 * simulator only says where it listens and which profile name fits it; the
 * gateway's own schema validates the entry.
 */
export interface ModbusDeviceEntry {
  readonly id: string;
  readonly role: 'grid' | 'pv' | 'battery' | 'charger';
  readonly host: string;
  readonly port: number;
  readonly pollMs: number;
  readonly timeoutMs: number;
  /** Name of the gateway profile for this device (SunSpec devices are discovered). */
  readonly profile?: string;
  readonly evse?: { readonly phases: 1 | 3 };
}

export interface ModbusDemoOptions {
  readonly clock: Clock;
  readonly physics: SitePhysics;
  readonly host?: string;
  /** SunSpec grid meter (models 1 + 203), unit 1. Default 5020. */
  readonly meterPort?: number;
  /** SunSpec PV inverter (1 + 103). Default 5021. */
  readonly pvPort?: number;
  /** SunSpec battery (1 + 124 + 802). Default 5022; null leaves it out. */
  readonly batteryPort?: number | null;
  /** Modbus chargers: Alfen-like, KEBA-like, Quasar-like V2G. Defaults 5023, 5024, 5025; null leaves them out. */
  readonly chargerPorts?: readonly [number, number, number] | null;
  /** Plug a vehicle into each Modbus charger at start. Default true. */
  readonly plugIn?: boolean;
  /**
   * Time every device takes to answer a request, ms, on `clock` (a meter's
   * processor, a wallbox controller: tens of ms on a depot LAN). Default 0.
   */
  readonly responseDelayMs?: number;
}

export interface ModbusDemoPart {
  readonly name: string;
  readonly where: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface ModbusDemo {
  /** Simulators, to start before the gateway and stop after it. */
  readonly parts: readonly ModbusDemoPart[];
  /**
   * `modbus.devices` entries pointing at them (merge into the config before
   * validation). Call after the parts started when a port was 0.
   */
  devices(): ModbusDeviceEntry[];
}

/**
 * The Modbus side of the simulated depot: SunSpec meter, inverter and
 * battery and three Modbus chargers, each on its own port (like separate
 * devices on the depot LAN), and the config entries that read them.
 */
export function createModbusDemo(o: ModbusDemoOptions): ModbusDemo {
  const host = o.host ?? '127.0.0.1';
  const { clock, physics } = o;
  const parts: ModbusDemoPart[] = [];
  const devices: Array<() => ModbusDeviceEntry> = [];
  type Sim = { start(): Promise<void>; stop(): Promise<void>; readonly port: number };
  const part = (name: string, sim: Sim, what: string) => {
    parts.push({
      name,
      get where() {
        return `modbus tcp://${host}:${sim.port} unit 1 (${what})`;
      },
      start: () => sim.start(),
      stop: () => sim.stop(),
    });
  };
  const habits = o.responseDelayMs ? { clock, responseDelayMs: o.responseDelayMs } : {};
  const meterPort = o.meterPort ?? 5020;
  const meter = new SunSpecMeterSim({ physics, host, port: meterPort, ...habits });
  part('grid meter', meter, 'SunSpec 1+203');
  devices.push(() => ({ id: 'grid-meter', role: 'grid', host, port: meter.port, pollMs: 500, timeoutMs: 1000 }));
  const pvPort = o.pvPort ?? 5021;
  // Like many inverters, it serves one TCP client at a time.
  const inverter = new SunSpecInverterSim({ physics, host, port: pvPort, maxConnections: 1, ...habits });
  part('pv inverter', inverter, 'SunSpec 1+103');
  devices.push(() => ({ id: 'pv-inverter', role: 'pv', host, port: inverter.port, pollMs: 1000, timeoutMs: 1000 }));
  if (o.batteryPort !== null) {
    const port = o.batteryPort ?? 5022;
    const battery = new SunSpecBatterySim({ physics, host, port, id: 'sunspec-battery', socPct: 60, ...habits, clock });
    part('battery', battery, 'SunSpec 1+124+802');
    devices.push(() => ({ id: 'battery', role: 'battery', host, port: battery.port, pollMs: 1000, timeoutMs: 1000 }));
  }
  if (o.chargerPorts !== null) {
    const [pa, pk, pq] = o.chargerPorts ?? [5023, 5024, 5025];
    // The simulated device and the gateway profile that reads it share a name.
    const defs: Array<[string, string, number, 1 | 3]> = [
      ['mb-alfen', 'alfen-eve', pa, 3],
      ['mb-keba', 'keba-p30', pk, 3],
      ['mb-quasar', 'wallbox-quasar', pq, 1],
    ];
    for (const [id, profileName, port, phases] of defs) {
      const sim = new ModbusChargerSim({ device: profileName, physics, host, port, id, ...habits, clock });
      parts.push({
        name: `charger ${id}`,
        get where() {
          return `modbus tcp://${host}:${sim.port} unit 1 (${sim.map.vendor} ${sim.map.model})`;
        },
        start: async () => {
          await sim.start();
          if (o.plugIn !== false) {
            sim.plugIn({
              id: `${id}-ev`,
              capacityWh: 60_000,
              socPct: 35,
              maxCurrentA: phases === 3 ? 16 : 32,
              phases,
              responseDelayMs: phases === 3 ? 3000 : 500,
              bidirectional: sim.bidirectional,
            });
          }
        },
        stop: () => sim.stop(),
      });
      devices.push(() => ({
        id,
        role: 'charger',
        host,
        port: sim.port,
        profile: profileName,
        pollMs: 1000,
        timeoutMs: 1000,
        evse: { phases },
      }));
    }
  }
  return { parts, devices: () => devices.map((d) => d()) };
}
