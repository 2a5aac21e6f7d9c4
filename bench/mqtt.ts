/**
 * MQTT inbound throughput: messages/s from a publishing client, through the
 * embedded broker and the MQTT adapter (topic lookup, JSON decode, scaling),
 * into the process image (SiteState). The baseline in the same run is a plain
 * MQTT subscriber on the same broker, i.e. what the broker and socket allow.
 */
import { type MqttClient, connectAsync } from 'mqtt';
import { Registry } from 'prom-client';
import { createMqttAdapter } from '../adapters/mqtt/index.js';
import { createGatewayBus } from '../src/bus/events.js';
import { MqttSchema } from '../src/config/sections/mqtt.js';
import { SystemClock } from '../src/model/clock.js';
import { SiteState } from '../src/state/site-state.js';
import { silentLogger } from '../src/util/logger.js';
import type { BenchResult } from './types.js';

export interface MqttBenchOptions {
  /** Messages to publish per measurement. */
  readonly messages?: number;
  /** Distinct inbound devices (topics) the messages are spread over. */
  readonly devices?: number;
  readonly timeoutMs?: number;
}

export interface MqttBenchResult {
  /** Messages/s that reached the process image through the adapter. */
  readonly messagesPerSecond: number;
  /** Messages/s a bare subscriber received on the same broker (same run). */
  readonly baselineMessagesPerSecond: number;
  readonly published: number;
  readonly received: number;
  readonly devices: number;
}

const ROLES = ['grid', 'pv', 'battery'] as const;

async function publishAll(pub: MqttClient, topics: readonly string[], messages: number): Promise<void> {
  // Await each batch so the publisher's socket buffer stays bounded.
  const batch = 500;
  for (let i = 0; i < messages; i += batch) {
    const jobs: Array<Promise<unknown>> = [];
    for (let j = i; j < Math.min(messages, i + batch); j++) {
      const payload = `{"power":{"total":${(j % 1000) / 10}},"energy":${j}}`;
      jobs.push(pub.publishAsync(topics[j % topics.length] as string, payload, { qos: 0 }));
    }
    await Promise.all(jobs);
  }
}

async function waitCount(count: () => number, target: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (count() < target && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
}

export async function benchMqtt(opts: MqttBenchOptions = {}): Promise<MqttBenchResult> {
  const messages = opts.messages ?? 20_000;
  const nDevices = opts.devices ?? 30;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const clock = new SystemClock();
  const bus = createGatewayBus();
  let changes = 0;
  const state = new SiteState({
    siteId: 'bench',
    clock,
    bus,
    gridStaleAfterMs: 3000,
    staleAfterMs: 10_000,
    onChange: () => {
      changes++;
    },
  });
  state.start();
  const topics = Array.from({ length: nDevices }, (_, i) => `bench/dev${i}/state`);
  const cfg = MqttSchema.parse({
    enabled: true,
    port: 0,
    discovery: { enabled: false },
    devices: topics.map((topic, i) => ({
      id: `dev${i}`,
      role: ROLES[i % ROLES.length],
      points:
        ROLES[i % ROLES.length] === 'battery'
          ? [{ quantity: 'power', topic, jsonPath: 'power.total', unit: 'kW' }]
          : [
              { quantity: 'power', topic, jsonPath: 'power.total', unit: 'kW' },
              { quantity: 'energy', topic, jsonPath: 'energy', unit: 'kWh' },
            ],
    })),
  });
  const adapter = createMqttAdapter(cfg, { clock, log: silentLogger(), bus, metrics: new Registry(), siteId: 'bench' });
  await adapter.start();
  const url = `mqtt://127.0.0.1:${adapter.brokerPort}`;
  const pub = await connectAsync(url, { clientId: 'bench-pub' });
  const raw = await connectAsync(url, { clientId: 'bench-raw' });
  try {
    // Baseline: a bare subscriber on topics the adapter does not subscribe to.
    let rawCount = 0;
    raw.on('message', () => {
      rawCount++;
    });
    await raw.subscribeAsync('baseline/#');
    const baseTopics = topics.map((t) => `baseline/${t}`);
    let t0 = performance.now();
    await publishAll(pub, baseTopics, messages);
    await waitCount(() => rawCount, messages, timeoutMs);
    const baseline = rawCount / ((performance.now() - t0) / 1000);

    // Warm-up so JIT and the first device-online events are not measured.
    await publishAll(pub, topics, nDevices * 10);
    await waitCount(() => changes, nDevices * 10, timeoutMs);

    changes = 0;
    t0 = performance.now();
    await publishAll(pub, topics, messages);
    await waitCount(() => changes, messages, timeoutMs);
    const elapsedS = (performance.now() - t0) / 1000;
    return {
      messagesPerSecond: changes / elapsedS,
      baselineMessagesPerSecond: baseline,
      published: messages,
      received: changes,
      devices: nDevices,
    };
  } finally {
    await pub.endAsync(true);
    await raw.endAsync(true);
    await adapter.stop();
    state.stop();
  }
}

/** Entry point for `bench/run.ts`. */
export async function run(): Promise<BenchResult[]> {
  const r = await benchMqtt();
  return [
    {
      name: 'MQTT inbound messages into the process image',
      value: r.messagesPerSecond,
      unit: 'msg/s',
      baseline: r.baselineMessagesPerSecond,
      notes: `${r.received}/${r.published} messages over ${r.devices} devices, embedded aedes broker; baseline = bare subscriber`,
    },
  ];
}
