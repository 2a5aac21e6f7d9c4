import type { Registry } from 'prom-client';
import type { GatewayBusPort } from '../../src/ports/bus.js';
import type { ModbusConfig, ModbusDeviceConfig, ModbusLinkConfig } from '../../src/ports/config.js';
import type { Adapter, SetpointSink } from '../../src/model/adapter.js';
import type { Clock } from '../../src/model/clock.js';
import type { Logger } from '../../src/util/logger.js';
import { type DeviceDriver, DeviceRunner } from './device.js';
import { ModbusLink } from './link.js';
import { type ModbusMetrics, createModbusMetrics } from './metrics.js';
import { ProfileDevice } from './profile-device.js';
import { type DeviceProfile, loadProfiles } from './profiles.js';
import { SunSpecDevice } from './sunspec/device.js';

/** The part of the dispatcher the adapter needs. */
export interface SinkRegistry {
  registerSink(key: string, sink: SetpointSink): () => void;
}

export interface ModbusAdapterDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: GatewayBusPort;
  readonly dispatcher: SinkRegistry;
  readonly metrics: Registry;
  /** Profiles by name; defaults to the catalogue in `profiles/` plus `cfg.profileDirs`. */
  readonly profiles?: ReadonlyMap<string, DeviceProfile>;
}

export interface ModbusAdapter extends Adapter {
  readonly links: ReadonlyMap<string, ModbusLink>;
  readonly devices: ReadonlyMap<string, DeviceRunner>;
  readonly drivers: ReadonlyMap<string, DeviceDriver>;
}

export interface ModbusConfigIssue {
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
}

/**
 * Checks what the config schema cannot: that each `profile` exists in the
 * catalogue and supports the device's role. Paths are relative to the
 * `modbus` section (prefix `modbus.` when reporting).
 */
export function checkModbusConfig(
  cfg: ModbusConfig,
  profiles: ReadonlyMap<string, DeviceProfile> = loadProfiles(cfg.profileDirs),
): ModbusConfigIssue[] {
  const issues: ModbusConfigIssue[] = [];
  cfg.devices.forEach((d, i) => {
    if (d.profile === undefined) return;
    const p = profiles.get(d.profile);
    if (!p) {
      issues.push({
        path: ['devices', i, 'profile'],
        message: `unknown profile "${d.profile}" (known: ${[...profiles.keys()].join(', ')})`,
      });
    } else if (!p.usages.includes(d.role)) {
      issues.push({
        path: ['devices', i, 'role'],
        message: `profile "${d.profile}" supports ${p.usages.join(', ')}, not ${d.role}`,
      });
    }
  });
  return issues;
}

/**
 * Modbus devices of the site: one link (and request queue) per TCP endpoint
 * or serial line, one poller per device, SunSpec discovery or a profile.
 */
export function createModbusAdapter(cfg: ModbusConfig, deps: ModbusAdapterDeps): ModbusAdapter {
  const metrics: ModbusMetrics = createModbusMetrics(deps.metrics);
  const log = deps.log.child({ component: 'modbus' });
  const links = new Map<string, ModbusLink>();
  const devices = new Map<string, DeviceRunner>();
  const drivers = new Map<string, DeviceDriver>();
  const linkOf = new Map<string, ModbusLink>();
  const unregister: Array<() => void> = [];
  const unsubscribe: Array<() => void> = [];
  const sinks: Array<[string, SetpointSink]> = [];
  let profiles = deps.profiles;

  const linkOptions = <L extends Pick<ModbusLinkConfig, 'id' | 'transport' | 'timeoutMs'>>(l: L) => ({
    ...l,
    reconnectMinMs: cfg.reconnect.minMs,
    reconnectMaxMs: cfg.reconnect.maxMs,
  });

  const linkFor = (d: ModbusDeviceConfig): ModbusLink => {
    if (d.link !== undefined) {
      const existing = links.get(d.link);
      if (existing) return existing;
      const lc = cfg.links.find((l) => l.id === d.link);
      if (!lc) throw new Error(`modbus device ${d.id}: unknown link ${d.link}`);
      const link = new ModbusLink(linkOptions(lc), { clock: deps.clock, log, metrics });
      links.set(lc.id, link);
      return link;
    }
    const id = `tcp://${d.host}:${d.port}`;
    const existing = links.get(id);
    if (existing) return existing;
    const tcp = {
      id,
      transport: 'tcp' as const,
      host: d.host,
      port: d.port,
      timeoutMs: d.timeoutMs,
      connectTimeoutMs: 3000,
    };
    const link = new ModbusLink(linkOptions(tcp), { clock: deps.clock, log, metrics });
    links.set(id, link);
    return link;
  };

  const build = (): void => {
    for (const d of cfg.devices) {
      const link = linkFor(d);
      linkOf.set(d.id, link);
      // What every driver takes from its config entry, whatever speaks to the device.
      const common = {
        id: d.id,
        role: d.role,
        unitId: d.unitId,
        timeoutMs: d.timeoutMs,
        invertPower: d.invertPower,
        revertTimeoutS: d.revertTimeoutS,
      };
      const driverDeps = { link, clock: deps.clock, log, bus: deps.bus };
      let driver: DeviceDriver;
      if (d.profile !== undefined) {
        profiles ??= loadProfiles(cfg.profileDirs);
        const profile = profiles.get(d.profile);
        if (!profile) {
          throw new Error(
            `modbus device ${d.id}: unknown profile "${d.profile}" (known: ${[...profiles.keys()].join(', ')})`,
          );
        }
        const pd = new ProfileDevice(
          {
            ...common,
            ...(d.evse ? { evse: d.evse } : {}),
            ...(d.maxRegistersPerRead !== undefined ? { maxRegistersPerRead: d.maxRegistersPerRead } : {}),
          },
          profile,
          driverDeps,
        );
        driver = pd;
        if (d.role === 'charger') sinks.push([pd.evseId, pd.sink()]);
      } else {
        const sd = new SunSpecDevice(
          { ...common, ...(d.sunspecBase !== undefined ? { base: d.sunspecBase } : {}) },
          driverDeps,
        );
        driver = sd;
        // One key for every battery, whatever its protocol: the policies address `battery:<id>`.
        if (d.role === 'battery') sinks.push([`battery:${d.id}`, sd.sink()]);
      }
      drivers.set(d.id, driver);
      const runner = new DeviceRunner(
        {
          id: d.id,
          role: d.role,
          pollMs: d.pollMs,
          offlineAfterFailures: d.offlineAfterFailures,
          maxBackoffMs: cfg.reconnect.maxMs,
        },
        driver,
        { clock: deps.clock, log, bus: deps.bus, metrics },
      );
      devices.set(d.id, runner);
    }
  };
  // Built now, so an unknown profile or link fails at composition, before anything starts.
  if (cfg.devices.some((d) => d.profile !== undefined)) {
    profiles ??= loadProfiles(cfg.profileDirs);
    const issues = checkModbusConfig(cfg, profiles);
    if (issues.length > 0) {
      throw new Error(
        `invalid modbus config:\n${issues.map((i) => `modbus.${i.path.join('.')}: ${i.message}`).join('\n')}`,
      );
    }
  }
  build();

  return {
    id: 'modbus',
    links,
    devices,
    drivers,
    async start() {
      for (const [key, sink] of sinks) unregister.push(deps.dispatcher.registerSink(key, sink));
      for (const d of cfg.devices) {
        const runner = devices.get(d.id);
        const link = runner ? linkOf.get(d.id) : undefined;
        // A reconnected link may front a replaced device: discover again.
        if (runner && link) unsubscribe.push(link.onConnection((up) => up && runner.reinit()));
      }
      await Promise.all([...links.values()].map((l) => l.start()));
      for (const r of devices.values()) r.start();
      log.info({ links: links.size, devices: devices.size }, 'modbus adapter started');
    },
    async stop() {
      for (const u of unregister.splice(0)) u();
      for (const u of unsubscribe.splice(0)) u();
      await Promise.all([...devices.values()].map((r) => r.stop()));
      await Promise.all([...links.values()].map((l) => l.stop()));
    },
  };
}

export { ModbusLink } from './link.js';
export { loadProfiles } from './profiles.js';
