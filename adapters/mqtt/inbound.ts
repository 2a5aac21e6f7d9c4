import type { Counter } from 'prom-client';
import type { Clock } from '../../src/model/clock.js';
import { reading } from '../../src/model/reading.js';
import type { PhaseValues } from '../../src/model/site.js';
import type { GatewayBusPort } from '../../src/ports/bus.js';
import type { MqttDeviceConfig, MqttPointConfig } from '../../src/ports/config.js';
import type { Logger } from '../../src/util/logger.js';
import { type DecodeResult, pointDecoder } from './decode.js';

type Quantity = MqttPointConfig['quantity'];

interface BoundPoint {
  readonly device: DeviceRuntime;
  readonly point: MqttPointConfig;
  readonly decode: (payload: Buffer) => DecodeResult;
}

interface DeviceRuntime {
  readonly cfg: MqttDeviceConfig;
  online: boolean;
  lastSeen?: number;
  /** Latest values by quantity, re-published as stale when the device goes quiet. */
  readonly values: Map<Quantity, number | PhaseValues>;
}

export interface DeviceInboundDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: GatewayBusPort;
  /** Inbound messages per device. */
  readonly received: Counter<string>;
  /** Reports a payload that could not be decoded (rate-limited by the caller). */
  readonly complain: (source: string, topic: string, error: string) => void;
}

/**
 * The inbound half of the MQTT adapter: field devices that publish their
 * readings, mapped by config to bus events; a device that goes quiet past
 * its `staleAfterMs` is reported offline and its last values as stale.
 */
export class DeviceInbound {
  private readonly devices: DeviceRuntime[];
  private readonly byTopic = new Map<string, BoundPoint[]>();

  constructor(
    configs: readonly MqttDeviceConfig[],
    private readonly deps: DeviceInboundDeps,
  ) {
    this.devices = configs.map((cfg) => ({ cfg, online: false, values: new Map() }));
    for (const device of this.devices) {
      for (const point of device.cfg.points) {
        const list = this.byTopic.get(point.topic) ?? [];
        list.push({ device, point, decode: pointDecoder(point) });
        this.byTopic.set(point.topic, list);
      }
    }
  }

  /** Topics the devices publish on. */
  topics(): string[] {
    return [...this.byTopic.keys()];
  }

  /** How often to look for quiet devices: a quarter of the shortest staleness, 100 ms to 2.5 s. */
  get checkIntervalMs(): number {
    return Math.max(100, Math.min(...this.devices.map((d) => d.cfg.staleAfterMs), 10_000) / 4);
  }

  /** Announce every device (offline until its first message). */
  announce(): void {
    for (const d of this.devices) this.emitDevice(d, 'no message yet');
  }

  /** Handle a message if a device publishes on `topic`; false when no device does. */
  handle(topic: string, payload: Buffer): boolean {
    const points = this.byTopic.get(topic);
    if (!points) return false;
    const now = this.deps.clock.now();
    const touched = new Map<DeviceRuntime, Quantity[]>();
    for (const bp of points) {
      const r = bp.decode(payload);
      if (!r.ok) {
        this.deps.complain(bp.device.cfg.id, topic, r.error);
        continue;
      }
      bp.device.values.set(bp.point.quantity, r.value);
      const list = touched.get(bp.device) ?? [];
      list.push(bp.point.quantity);
      touched.set(bp.device, list);
    }
    for (const [device, quantities] of touched) {
      this.deps.received.inc({ device: device.cfg.id });
      device.lastSeen = now;
      const cameBack = !device.online;
      device.online = true;
      if (cameBack) this.emitDevice(device);
      this.emitValues(device, quantities, now);
    }
    return true;
  }

  checkStale(): void {
    const now = this.deps.clock.now();
    for (const device of this.devices) {
      if (!device.online || device.lastSeen === undefined) continue;
      if (now - device.lastSeen <= device.cfg.staleAfterMs) continue;
      device.online = false;
      this.deps.log.warn(
        { device: device.cfg.id, lastSeen: device.lastSeen },
        'MQTT device went quiet; readings stale',
      );
      this.emitDevice(device, `no message for ${now - device.lastSeen} ms`);
      this.emitValues(device, device.values.keys(), device.lastSeen);
    }
  }

  private emitDevice(device: DeviceRuntime, error?: string): void {
    this.deps.bus.emit('device', {
      id: device.cfg.id,
      protocol: 'mqtt',
      kind: device.cfg.role === 'grid' ? 'meter' : device.cfg.role,
      online: device.online,
      lastSeen: device.lastSeen,
      error,
    });
  }

  private emitValues(device: DeviceRuntime, quantities: Iterable<Quantity>, ts: number): void {
    const { id, role } = device.cfg;
    const bus = this.deps.bus;
    const quality = device.online ? 'good' : 'stale';
    const num = (q: Quantity) => {
      const v = device.values.get(q);
      return typeof v === 'number' ? reading(v, ts, id, quality) : undefined;
    };
    const qs = new Set(quantities);
    const pick = <T>(q: Quantity, r: T | undefined) => (qs.has(q) && r !== undefined ? r : undefined);
    const strip = <T extends object>(o: T) =>
      Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
    switch (role) {
      case 'grid': {
        const cur = device.values.get('currents');
        bus.emit(
          'grid',
          strip({
            powerW: pick('power', num('power')),
            importEnergyWh: pick('energy', num('energy')),
            exportEnergyWh: pick('exportEnergy', num('exportEnergy')),
            currentsA: pick('currents', Array.isArray(cur) ? reading(cur as PhaseValues, ts, id, quality) : undefined),
          }),
        );
        break;
      }
      case 'pv':
        bus.emit('pv', strip({ powerW: pick('power', num('power')), energyWh: pick('energy', num('energy')) }));
        break;
      case 'battery':
        bus.emit('battery', strip({ powerW: pick('power', num('power')), socPct: pick('soc', num('soc')) }));
        break;
      case 'load':
        bus.emit('load', strip({ id, powerW: pick('power', num('power')), energyWh: pick('energy', num('energy')) }));
        break;
    }
  }
}
