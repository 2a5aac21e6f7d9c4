import { readFileSync } from 'node:fs';
import { type IClientOptions, type MqttClient, connect } from 'mqtt';
import { Counter, type Registry } from 'prom-client';
import type { GatewayBusPort } from '../../src/ports/bus.js';
import type { GatewayEvents } from '../../src/model/events.js';
import type { MqttConfig, MqttDeviceConfig, MqttPointConfig } from '../../src/ports/config.js';
import type { Adapter } from '../../src/model/adapter.js';
import type { Clock, TimerHandle } from '../../src/model/clock.js';
import { summariseReasons } from '../../src/model/decision.js';
import { type Reading, reading } from '../../src/model/reading.js';
import type { EvseSpec, PhaseValues } from '../../src/model/site.js';
import type { Logger } from '../../src/util/logger.js';
import { type EmbeddedBroker, startEmbeddedBroker } from './broker.js';
import { type CommandTarget, type MqttCommand, type MqttCommandHandler, parseCommand } from './commands.js';
import { type DecodeResult, pointDecoder } from './decode.js';
import { type DiscoveryContext, numberDiscovery, sensorDiscovery } from './discovery.js';

export type { MqttCommand, MqttCommandHandler } from './commands.js';

export interface MqttAdapterDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: GatewayBusPort;
  readonly metrics: Registry;
  readonly siteId: string;
  /** Receives validated `/set` commands; without it commands are answered "not supported". */
  readonly onCommand?: MqttCommandHandler;
}

export interface MqttAdapter extends Adapter {
  /** Port of the embedded broker (after start), undefined for an external broker. */
  readonly brokerPort: number | undefined;
  /** Whether the client is connected to the broker right now. */
  readonly connected: boolean;
  /** The broker this adapter uses (the embedded one's listen address once started). */
  url(): string;
  /**
   * Hand messages on `filter` (wildcards allowed) to another component, e.g.
   * the grid area's simple DR signals or a price topic. Works before and after
   * start and survives reconnects; a matching topic is never treated as a
   * gateway command. Returns an unsubscribe function.
   */
  subscribe(filter: string, handler: MqttMessageHandler): () => void;
}

export type MqttMessageHandler = (topic: string, payload: Buffer) => void;

/** MQTT topic filter matching (`+` one level, `#` the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** A topic segment for an id: MQTT separators and wildcards are replaced (`CP01/1` -> `CP01_1`). */
export function topicSegment(id: string): string {
  return id.replace(/[/+#\s]/g, '_');
}

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
  readonly values: Map<MqttPointConfig['quantity'], number | PhaseValues>;
}

const LOG_EVERY_MS = 60_000;

function counter(registry: Registry, name: string, help: string, labelNames: string[]): Counter<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<string>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/**
 * MQTT adapter: inbound field devices (readings mapped by config), outbound
 * site state for dashboards and Home Assistant, and validated commands.
 * With `broker: embedded` it also runs the broker it connects to.
 */
export function createMqttAdapter(cfg: MqttConfig, deps: MqttAdapterDeps): MqttAdapter {
  const { clock, log, bus, siteId } = deps;
  const base = `${cfg.topicPrefix}/${siteId}`;
  const availabilityTopic = `${base}/status`;
  const discoveryCtx: DiscoveryContext = { discoveryPrefix: cfg.discovery.prefix, siteId, availabilityTopic };

  const malformed = counter(
    deps.metrics,
    'gridkeeper_mqtt_malformed_total',
    'MQTT messages that could not be decoded or validated',
    ['source'],
  );
  const received = counter(deps.metrics, 'gridkeeper_mqtt_messages_received_total', 'Inbound MQTT device messages', [
    'device',
  ]);
  const commandsTotal = counter(deps.metrics, 'gridkeeper_mqtt_commands_total', 'MQTT commands by result', [
    'kind',
    'result',
  ]);

  const devices = cfg.devices.map<DeviceRuntime>((d) => ({ cfg: d, online: false, values: new Map() }));
  const byTopic = new Map<string, BoundPoint[]>();
  for (const device of devices) {
    for (const point of device.cfg.points) {
      const list = byTopic.get(point.topic) ?? [];
      list.push({ device, point, decode: pointDecoder(point) });
      byTopic.set(point.topic, list);
    }
  }

  const evses = new Map<string, EvseSpec>();
  /** Last payload per state topic: deduplicates and is re-sent after a reconnect. */
  const stateCache = new Map<string, string>();
  const discoveryCache = new Map<string, string>();
  const lastLogAt = new Map<string, number>();
  const unsubscribe: Array<() => void> = [];
  let client: MqttClient | undefined;
  let broker: EmbeddedBroker | undefined;
  let watchdog: TimerHandle | undefined;
  let stopping = false;
  let commandChain: Promise<void> = Promise.resolve();
  const extra: Array<{ filter: string; handler: MqttMessageHandler }> = [];

  // ---------- outbound ----------

  function send(topic: string, payload: string, retain: boolean): void {
    if (!client?.connected) return;
    client.publish(topic, payload, { qos: 0, retain }, (err) => {
      if (err && !stopping) log.debug({ err, topic }, 'mqtt publish failed');
    });
  }

  function publishDiscovery(topic: string, config: Record<string, unknown>): void {
    if (!cfg.discovery.enabled || discoveryCache.has(topic)) return;
    const payload = JSON.stringify(config);
    discoveryCache.set(topic, payload);
    send(topic, payload, true);
  }

  function publishState(device: string, quantity: string, value: unknown): void {
    const topic = `${base}/${device}/${quantity}`;
    const payload = typeof value === 'string' ? value : JSON.stringify(value);
    if (stateCache.get(topic) === payload) return;
    stateCache.set(topic, payload);
    const disc = sensorDiscovery(discoveryCtx, device, quantity, topic);
    if (disc) publishDiscovery(disc.topic, disc.config);
    send(topic, payload, cfg.retain);
  }

  function publishReading(device: string, quantity: string, r: Reading<number> | Reading<PhaseValues> | undefined) {
    if (r?.quality !== 'good') return;
    const v = r.value;
    publishState(device, quantity, typeof v === 'number' ? String(round(v)) : v.map(round));
  }

  function announceCommands(): void {
    if (!cfg.commands) return;
    const d = numberDiscovery(discoveryCtx, 'site', 'limit', `${base}/site/limit/set`, {
      name: 'Site limit override',
      unit: 'W',
      min: 0,
      max: 10_000_000,
      step: 100,
    });
    publishDiscovery(d.topic, d.config);
  }

  function onEvseSpec(spec: EvseSpec): void {
    const seg = topicSegment(spec.id);
    evses.set(seg, spec);
    if (!cfg.commands) return;
    const d = numberDiscovery(discoveryCtx, seg, 'maxCurrent', `${base}/${seg}/maxCurrent/set`, {
      name: 'Max current',
      unit: 'A',
      min: 0,
      max: spec.maxCurrentA,
      step: 1,
    });
    publishDiscovery(d.topic, d.config);
  }

  function subscribeBus(): void {
    const on = <K extends keyof GatewayEvents>(event: K, h: (p: GatewayEvents[K]) => void) =>
      unsubscribe.push(bus.on(event, h));
    on('grid', (p) => {
      publishReading('grid', 'powerW', p.powerW);
      publishReading('grid', 'currentsA', p.currentsA);
      publishReading('grid', 'importEnergyWh', p.importEnergyWh);
      publishReading('grid', 'exportEnergyWh', p.exportEnergyWh);
    });
    on('pv', (p) => {
      publishReading('pv', 'powerW', p.powerW);
      publishReading('pv', 'energyWh', p.energyWh);
    });
    on('battery', (p) => {
      publishReading('battery', 'powerW', p.powerW);
      publishReading('battery', 'socPct', p.socPct);
      publishReading('battery', 'sohPct', p.sohPct);
      publishReading('battery', 'cellTempMinC', p.cellTempMinC);
      publishReading('battery', 'cellTempMaxC', p.cellTempMaxC);
      publishReading('battery', 'maxChargePowerW', p.maxChargePowerW);
      publishReading('battery', 'maxDischargePowerW', p.maxDischargePowerW);
      publishReading('battery', 'alarms', p.alarms);
    });
    on('load', (p) => {
      const seg = topicSegment(p.id);
      publishReading(seg, 'powerW', p.powerW);
      publishReading(seg, 'energyWh', p.energyWh);
    });
    on('evse.spec', onEvseSpec);
    on('evse.live', ({ id, patch }) => {
      const seg = topicSegment(id);
      if (patch.status !== undefined) publishState(seg, 'status', patch.status);
      publishReading(seg, 'powerW', patch.powerW);
      publishReading(seg, 'currentsA', patch.currentsA);
      if (patch.sessionEnergyWh !== undefined)
        publishState(seg, 'sessionEnergyWh', String(round(patch.sessionEnergyWh)));
    });
    on('setpoint.changed', ({ setpoint, ts }) => {
      publishState(topicSegment(setpoint.evseId), 'setpoint', {
        currentA: round(setpoint.currentA),
        powerW: round(setpoint.powerW),
        phases: setpoint.phases,
        reason: summariseReasons(setpoint.reasons),
        reasons: setpoint.reasons,
        ts,
      });
    });
    on('device', (d) => {
      const seg = topicSegment(d.id);
      publishState(seg, 'online', d.online ? 'ON' : 'OFF');
      publishState(seg, 'device', {
        protocol: d.protocol,
        kind: d.kind,
        online: d.online,
        lastSeen: d.lastSeen,
        error: d.error,
      });
    });
    on('failsafe', (f) => publishState('site', 'failsafe', { active: f.active, reason: f.reason, ts: f.ts }));
  }

  /** After every (re)connect the broker may have lost everything: send availability, discovery and state again. */
  function republishAll(): void {
    send(availabilityTopic, 'online', true);
    for (const [topic, payload] of discoveryCache) send(topic, payload, true);
    for (const [topic, payload] of stateCache) send(topic, payload, cfg.retain);
  }

  // ---------- inbound ----------

  function complain(source: string, topic: string, error: string): void {
    malformed.inc({ source });
    const now = clock.now();
    const last = lastLogAt.get(topic);
    // A broken device publishing at 10 Hz must not flood the log.
    if (last !== undefined && now - last < LOG_EVERY_MS) return;
    lastLogAt.set(topic, now);
    log.warn({ topic, source, error }, 'malformed MQTT message');
  }

  function emitDevice(device: DeviceRuntime, error?: string): void {
    bus.emit('device', {
      id: device.cfg.id,
      protocol: 'mqtt',
      kind: device.cfg.role === 'grid' ? 'meter' : device.cfg.role,
      online: device.online,
      lastSeen: device.lastSeen,
      error,
    });
  }

  function emitValues(device: DeviceRuntime, quantities: Iterable<MqttPointConfig['quantity']>, ts: number): void {
    const { id, role } = device.cfg;
    const quality = device.online ? 'good' : 'stale';
    const num = (q: MqttPointConfig['quantity']) => {
      const v = device.values.get(q);
      return typeof v === 'number' ? reading(v, ts, id, quality) : undefined;
    };
    const qs = new Set(quantities);
    const pick = <T>(q: MqttPointConfig['quantity'], r: T | undefined) =>
      qs.has(q) && r !== undefined ? r : undefined;
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

  function onDeviceMessage(topic: string, payload: Buffer, points: BoundPoint[]): void {
    const now = clock.now();
    const touched = new Map<DeviceRuntime, Array<MqttPointConfig['quantity']>>();
    for (const bp of points) {
      const r = bp.decode(payload);
      if (!r.ok) {
        complain(bp.device.cfg.id, topic, r.error);
        continue;
      }
      bp.device.values.set(bp.point.quantity, r.value);
      const list = touched.get(bp.device) ?? [];
      list.push(bp.point.quantity);
      touched.set(bp.device, list);
    }
    for (const [device, quantities] of touched) {
      received.inc({ device: device.cfg.id });
      device.lastSeen = now;
      const cameBack = !device.online;
      device.online = true;
      if (cameBack) emitDevice(device);
      emitValues(device, quantities, now);
    }
  }

  async function onCommandMessage(device: string, quantity: string, payload: Buffer, topic: string): Promise<void> {
    const resultTopic = `${topic}/result`;
    const parsed = parseCommand(device, quantity, payload, (seg): CommandTarget | undefined => {
      const spec = evses.get(seg);
      return spec ? { evseId: spec.id, maxCurrentA: spec.maxCurrentA } : undefined;
    });
    if (!parsed.ok) {
      complain('command', topic, parsed.error);
      // The kind of an invalid command is unknown; topic segments would make label values unbounded.
      commandsTotal.inc({ kind: 'unknown', result: 'invalid' });
      send(resultTopic, JSON.stringify({ ok: false, error: parsed.error }), false);
      return;
    }
    const cmd: MqttCommand = parsed.command;
    if (!deps.onCommand) {
      commandsTotal.inc({ kind: cmd.kind, result: 'unsupported' });
      send(resultTopic, JSON.stringify({ ok: false, error: 'commands are not wired in this gateway' }), false);
      return;
    }
    try {
      await deps.onCommand(cmd);
      commandsTotal.inc({ kind: cmd.kind, result: 'ok' });
      log.info({ topic, command: cmd }, 'MQTT command accepted');
      send(resultTopic, JSON.stringify({ ok: true, command: cmd }), false);
    } catch (err) {
      commandsTotal.inc({ kind: cmd.kind, result: 'rejected' });
      log.warn({ topic, err }, 'MQTT command rejected');
      send(resultTopic, JSON.stringify({ ok: false, error: (err as Error).message ?? String(err) }), false);
    }
  }

  function onMessage(topic: string, payload: Buffer): void {
    try {
      const points = byTopic.get(topic);
      if (points) {
        onDeviceMessage(topic, payload, points);
        return;
      }
      const handlers = extra.filter((e) => topicMatches(e.filter, topic));
      if (handlers.length > 0) {
        for (const h of handlers) {
          try {
            h.handler(topic, payload);
          } catch (err) {
            complain('handler', topic, (err as Error).message);
          }
        }
        return;
      }
      if (cfg.commands && topic.startsWith(`${base}/`) && topic.endsWith('/set')) {
        const parts = topic.slice(base.length + 1).split('/');
        const [device, quantity] = parts;
        if (parts.length === 3 && device && quantity) {
          // Serialised so commands take effect, and are answered, in arrival order.
          commandChain = commandChain.then(() => onCommandMessage(device, quantity, payload, topic));
        }
      }
    } catch (err) {
      // Whatever a device sends, the gateway keeps running.
      complain('unknown', topic, (err as Error).message);
    }
  }

  function checkStale(): void {
    const now = clock.now();
    for (const device of devices) {
      if (!device.online || device.lastSeen === undefined) continue;
      if (now - device.lastSeen <= device.cfg.staleAfterMs) continue;
      device.online = false;
      log.warn({ device: device.cfg.id, lastSeen: device.lastSeen }, 'MQTT device went quiet; readings stale');
      emitDevice(device, `no message for ${now - device.lastSeen} ms`);
      emitValues(device, device.values.keys(), device.lastSeen);
    }
  }

  // ---------- lifecycle ----------

  function clientOptions(): { url: string; opts: IClientOptions } {
    const opts: IClientOptions = {
      clientId: cfg.clientId ?? `gridkeeper-${siteId}`,
      clean: true,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      // State is re-sent from the cache after a reconnect; queueing QoS 0 while offline only grows memory.
      queueQoSZero: false,
      will: { topic: availabilityTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
    };
    if (cfg.username !== undefined) opts.username = cfg.username;
    if (cfg.password !== undefined) opts.password = cfg.password;
    if (cfg.tls) {
      if (cfg.tls.ca) opts.ca = readFileSync(cfg.tls.ca);
      if (cfg.tls.cert) opts.cert = readFileSync(cfg.tls.cert);
      if (cfg.tls.key) opts.key = readFileSync(cfg.tls.key);
      opts.rejectUnauthorized = cfg.tls.rejectUnauthorized;
    }
    if (cfg.broker === 'embedded') {
      const host = broker?.host === '0.0.0.0' ? '127.0.0.1' : (broker?.host ?? '127.0.0.1');
      return { url: `mqtt://${host}:${broker?.port}`, opts };
    }
    return { url: cfg.url as string, opts };
  }

  return {
    id: 'mqtt',
    get brokerPort() {
      return broker?.port;
    },
    get connected() {
      return client?.connected ?? false;
    },
    subscribe(filter, handler) {
      const entry = { filter, handler };
      extra.push(entry);
      if (client?.connected) {
        client.subscribe(filter, { qos: 0 }, (err) => {
          if (err) log.error({ err, filter }, 'MQTT subscribe failed');
        });
      }
      return () => {
        const i = extra.indexOf(entry);
        if (i >= 0) extra.splice(i, 1);
        if (client?.connected && !extra.some((e) => e.filter === filter) && !byTopic.has(filter)) {
          client.unsubscribe(filter);
        }
      };
    },
    url() {
      if (cfg.broker === 'embedded') return `mqtt://${cfg.host}:${broker?.port ?? cfg.port}`;
      // Never show credentials that may be embedded in the URL.
      return (cfg.url ?? '').replace(/\/\/[^@/]*@/, '//');
    },

    async start() {
      stopping = false;
      if (cfg.broker === 'embedded') {
        broker = await startEmbeddedBroker(cfg.host, cfg.port);
        log.info({ host: broker.host, port: broker.port }, 'embedded MQTT broker listening');
      }
      subscribeBus();
      for (const d of devices) emitDevice(d, 'no message yet');
      announceCommands();

      const { url, opts } = clientOptions();
      const c = connect(url, opts);
      client = c;
      c.on('connect', () => {
        log.info({ url }, 'MQTT connected');
        // Computed per connect: subscriptions added after start() must survive a reconnect too.
        const topics = [...new Set([...byTopic.keys(), ...extra.map((e) => e.filter)])];
        if (cfg.commands) topics.push(`${base}/+/+/set`);
        if (topics.length > 0) {
          c.subscribe(topics, { qos: 0 }, (err) => {
            if (err) log.error({ err }, 'MQTT subscribe failed');
          });
        }
        republishAll();
      });
      c.on('message', onMessage);
      c.on('error', (err) => log.warn({ err: err.message, url }, 'MQTT client error'));
      c.on('offline', () => {
        if (!stopping) log.warn({ url }, 'MQTT broker unreachable; retrying');
      });

      const interval = Math.max(100, Math.min(...devices.map((d) => d.cfg.staleAfterMs), 10_000) / 4);
      watchdog = clock.setInterval(checkStale, interval);

      // Wait for the first connection attempt so a demo is live when start() returns;
      // a broker that is down does not block the gateway (the client keeps retrying).
      await new Promise<void>((resolve) => {
        const done = () => {
          c.off('connect', done);
          c.off('close', done);
          resolve();
        };
        c.on('connect', done);
        c.on('close', done);
      });
    },

    async stop() {
      stopping = true;
      clock.clearInterval(watchdog);
      watchdog = undefined;
      for (const u of unsubscribe.splice(0)) u();
      await commandChain;
      const c = client;
      client = undefined;
      if (c) {
        if (c.connected) {
          // A clean disconnect does not fire the last will, so say "offline" ourselves.
          await c.publishAsync(availabilityTopic, 'offline', { qos: 1, retain: true }).catch(() => {});
          await c.endAsync().catch(() => {});
        } else {
          await c.endAsync(true).catch(() => {});
        }
      }
      if (broker) {
        await broker.close();
        broker = undefined;
      }
      stateCache.clear();
      discoveryCache.clear();
    },
  };
}
