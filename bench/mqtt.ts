/**
 * MQTT inbound throughput, end to end: a publishing client sends device
 * readings to the gateway's embedded broker (`gridkeeper run` in its own
 * process, mqtt.broker: embedded); the gateway's MQTT adapter decodes them
 * into the process image and its state publisher republishes each new value
 * on `<prefix>/<site>/<device>/powerW`. An observing client counts those:
 * every inbound message carries a new value, so every one that went through
 * the gateway comes back out once. Baseline in the same run: a plain
 * subscriber on the same broker for topics the gateway does not follow, i.e.
 * what the broker and the sockets allow. No target: messages/s is reported.
 */
import { type MqttClient, connectAsync } from 'mqtt';
import { startGateway } from './gateway.js';
import { freePort } from './peers/ports.js';
import type { BenchResult } from './types.js';

export interface MqttBenchOptions {
  /** Messages to publish per measurement. */
  readonly messages?: number;
  /** Distinct inbound devices (topics) the messages are spread over. */
  readonly devices?: number;
  readonly timeoutMs?: number;
}

const SITE = 'mqttbench';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function siteConfig(port: number, topics: readonly string[]): Record<string, unknown> {
  return {
    site: { id: SITE, limitW: 1_000_000, failsafeLimitW: 100_000 },
    mqtt: {
      enabled: true,
      broker: 'embedded',
      host: '127.0.0.1',
      port,
      retain: false,
      discovery: { enabled: false },
      devices: topics.map((topic, i) => ({
        id: `dev${i}`,
        role: 'load',
        points: [{ quantity: 'power', topic, jsonPath: 'power.total', unit: 'W' }],
      })),
    },
  };
}

/** Publishes `messages` readings round-robin over `topics`; the value is the message number (always new per device). */
async function publishAll(pub: MqttClient, topics: readonly string[], messages: number, from: number): Promise<void> {
  // Await each batch so the publisher's socket buffer stays bounded.
  const batch = 500;
  for (let i = 0; i < messages; i += batch) {
    const jobs: Array<Promise<unknown>> = [];
    for (let j = i; j < Math.min(messages, i + batch); j++) {
      const payload = `{"power":{"total":${from + j}}}`;
      jobs.push(pub.publishAsync(topics[j % topics.length] as string, payload, { qos: 0 }));
    }
    await Promise.all(jobs);
  }
}

async function waitCount(count: () => number, target: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = -1;
  let lastMoved = Date.now();
  while (count() < target && Date.now() < end) {
    if (count() !== last) {
      last = count();
      lastMoved = Date.now();
    } else if (Date.now() - lastMoved > 3000) return; // nothing more is coming
    await sleep(5);
  }
}

export async function benchMqtt(opts: MqttBenchOptions = {}) {
  const messages = opts.messages ?? 20_000;
  const nDevices = opts.devices ?? 30;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const topics = Array.from({ length: nDevices }, (_, i) => `bench/dev${i}/state`);
  const port = await freePort();
  const gw = await startGateway(siteConfig(port, topics), 'mqtt');
  const url = `mqtt://127.0.0.1:${port}`;
  const clients: MqttClient[] = [];
  try {
    const pub = await connectAsync(url, { clientId: 'bench-pub' });
    const raw = await connectAsync(url, { clientId: 'bench-raw' });
    const obs = await connectAsync(url, { clientId: 'bench-observer' });
    clients.push(pub, raw, obs);
    let rawCount = 0;
    raw.on('message', () => rawCount++);
    await raw.subscribeAsync('baseline/#');
    let out = 0;
    obs.on('message', () => out++);
    await obs.subscribeAsync(`gridkeeper/${SITE}/+/powerW`);

    // Baseline: a bare subscriber on topics the gateway does not subscribe to.
    let t0 = performance.now();
    await publishAll(
      pub,
      topics.map((t) => `baseline/${t}`),
      messages,
      0,
    );
    await waitCount(() => rawCount, messages, timeoutMs);
    const baseline = rawCount / ((performance.now() - t0) / 1000);

    // Warm-up (JIT, first device-online events), then the measurement.
    await publishAll(pub, topics, nDevices * 10, 1);
    await waitCount(() => out, nDevices * 10, timeoutMs);
    await sleep(500);
    out = 0;
    const cpu0 = gw.cpuMs();
    t0 = performance.now();
    await publishAll(pub, topics, messages, 1_000_000);
    await waitCount(() => out, messages, timeoutMs);
    const elapsedS = (performance.now() - t0) / 1000;
    return {
      messagesPerSecond: out / elapsedS,
      baselineMessagesPerSecond: baseline,
      published: messages,
      received: out,
      devices: nDevices,
      gatewayCpuMs: gw.cpuMs() - cpu0,
    };
  } finally {
    for (const c of clients) await c.endAsync(true).catch(() => {});
    await gw.stop();
  }
}

/** Entry point for `bench/run.ts`. */
export async function run(): Promise<BenchResult[]> {
  const r = await benchMqtt();
  return [
    {
      name: 'MQTT inbound e2e, reading published → republished by the gateway',
      value: r.messagesPerSecond,
      unit: 'msg/s',
      baseline: r.baselineMessagesPerSecond,
      notes: `${r.received}/${r.published} messages over ${r.devices} devices through \`gridkeeper run\` (embedded broker, MQTT adapter, process image, state publisher; gateway CPU ${r.gatewayCpuMs} ms); baseline = a plain subscriber on the same broker`,
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchMqtt({ messages: Number(process.argv[2] ?? 2000) });
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
}
