import { readFileSync } from 'node:fs';
import { type IClientOptions, type MqttClient, connect } from 'mqtt';
import { Counter, type Registry } from 'prom-client';
import type { Adapter } from '../../src/model/adapter.js';
import type { Clock, TimerHandle } from '../../src/model/clock.js';
import type { GatewayBusPort } from '../../src/ports/bus.js';
import type { MqttConfig } from '../../src/ports/config.js';
import type { Logger } from '../../src/util/logger.js';
import { type EmbeddedBroker, startEmbeddedBroker } from './broker.js';
import { type CommandTarget, type MqttCommand, type MqttCommandHandler, parseCommand } from './commands.js';
import type { DiscoveryContext } from './discovery.js';
import { DeviceInbound } from './inbound.js';
import { StatePublisher } from './publisher.js';
import { topicMatches } from './topics.js';

export type { MqttCommand, MqttCommandHandler } from './commands.js';
export { topicMatches, topicSegment } from './topics.js';

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

const LOG_EVERY_MS = 60_000;

function counter(registry: Registry, name: string, help: string, labelNames: string[]): Counter<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<string>;
  return new Counter({ name, help, labelNames, registers: [registry] });
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

  const publisher = new StatePublisher({ cfg, base, discovery: discoveryCtx, send });

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

  const inbound = new DeviceInbound(cfg.devices, { clock, log, bus, received, complain });

  async function onCommandMessage(device: string, quantity: string, payload: Buffer, topic: string): Promise<void> {
    const resultTopic = `${topic}/result`;
    const parsed = parseCommand(device, quantity, payload, (seg): CommandTarget | undefined => {
      const spec = publisher.evses.get(seg);
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
      if (inbound.handle(topic, payload)) return;
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
        if (client?.connected && !extra.some((e) => e.filter === filter) && !inbound.topics().includes(filter)) {
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
      unsubscribe.push(...publisher.follow(bus));
      inbound.announce();
      publisher.announceCommands();

      const { url, opts } = clientOptions();
      const c = connect(url, opts);
      client = c;
      c.on('connect', () => {
        log.info({ url }, 'MQTT connected');
        // Computed per connect: subscriptions added after start() must survive a reconnect too.
        const topics = [...new Set([...inbound.topics(), ...extra.map((e) => e.filter)])];
        if (cfg.commands) topics.push(`${base}/+/+/set`);
        if (topics.length > 0) {
          c.subscribe(topics, { qos: 0 }, (err) => {
            if (err) log.error({ err }, 'MQTT subscribe failed');
          });
        }
        publisher.republishAll();
      });
      c.on('message', onMessage);
      c.on('error', (err) => log.warn({ err: err.message, url }, 'MQTT client error'));
      c.on('offline', () => {
        if (!stopping) log.warn({ url }, 'MQTT broker unreachable; retrying');
      });

      watchdog = clock.setInterval(() => inbound.checkStale(), inbound.checkIntervalMs);

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
      publisher.clear();
    },
  };
}
