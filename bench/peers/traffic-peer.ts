/**
 * Proxy-bench peer process: a CMS and N OCPP 1.6J chargers with interleaved
 * real traffic (boot, heartbeats, Authorize / StartTransaction / MeterValues
 * / StopTransaction sessions, CMS → charger remote calls), run either
 * straight against the CMS or through the gateway. Every round trip is timed
 * here on one clock. Imports nothing of the gateway. Driven over IPC by
 * bench/proxy.ts.
 */
import { ChargerPeer } from './charger.js';
import { CmsPeer } from './cms.js';
import { serve } from './ipc.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rand = (lo: number, hi: number) => lo + Math.random() * (hi - lo);

export interface TrafficArgs {
  /** Where chargers connect: the CMS itself (direct) or the gateway's OCPP URL. */
  readonly url: string;
  readonly n: number;
  /** Chargers connect spread over this time (part of the traffic). */
  readonly connectRampMs: number;
  readonly durationMs: number;
  readonly meterIntervalMs: number;
  readonly heartbeatIntervalMs: number;
  /** CMS → charger calls, one every this many ms, to a random charger. */
  readonly remoteEveryMs: number;
  readonly sessionMs: readonly [number, number];
  /** Pause between two sessions of one charger (the first starts 1–5 s after boot). */
  readonly sessionGapMs: readonly [number, number];
}

/** [t since start, round trip] per message; t lets the harness separate the connect ramp. */
type Samples = Record<string, Array<[number, number]>>;

let cms: CmsPeer | undefined;

const REMOTE: ReadonlyArray<[string, Record<string, unknown>]> = [
  ['ChangeConfiguration', { key: 'MeterValueSampleInterval', value: '10' }],
  ['GetConfiguration', { key: ['HeartbeatInterval'] }],
  ['TriggerMessage', { requestedMessage: 'Heartbeat' }],
  ['RemoteStartTransaction', { connectorId: 1, idTag: 'REMOTE1' }],
  ['DataTransfer', { vendorId: 'bench', messageId: 'ping', data: 'x' }],
];

async function traffic(a: TrafficArgs) {
  const server = cms;
  if (!server) throw new Error('CMS not started');
  const t0 = performance.now();
  const endAt = t0 + a.connectRampMs + a.durationMs;
  const samples: Samples = {};
  const errors: Record<string, number> = {};
  const rec = (action: string, ms: number) => {
    let s = samples[action];
    if (!s) {
      s = [];
      samples[action] = s;
    }
    s.push([performance.now() - t0, ms]);
  };
  const fail = (what: string) => {
    errors[what] = (errors[what] ?? 0) + 1;
  };
  const timed = async (action: string, p: Promise<{ ms: number }>) => {
    try {
      rec(action, (await p).ms);
    } catch {
      fail(action);
    }
  };
  const chargers: ChargerPeer[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const every = (ms: number, first: number, fn: () => void) => {
    const t = setTimeout(() => {
      fn();
      const iv = setInterval(fn, ms);
      timers.add(iv);
    }, first);
    timers.add(t);
  };

  const life = async (i: number) => {
    await sleep((i / a.n) * a.connectRampMs);
    let c: ChargerPeer;
    try {
      c = await ChargerPeer.connect({ url: a.url, id: `CP${i}`, followMs: 50 });
    } catch (err) {
      // Why it failed says where a server stops (refused = listen backlog, reset = dropped in the handshake, HTTP status).
      const e = err as { code?: string; message?: string };
      fail(`connect ${e.code ?? /HTTP \d+/.exec(e.message ?? '')?.[0] ?? e.message ?? 'failed'}`);
      return;
    }
    chargers.push(c);
    await timed('BootNotification', c.boot());
    await timed('StatusNotification', c.status('Available'));
    every(a.heartbeatIntervalMs, rand(0, a.heartbeatIntervalMs), () => {
      if (c.open) void timed('Heartbeat', c.call('Heartbeat', {}));
    });
    let gap: readonly [number, number] = [1000, 5000];
    while (performance.now() < endAt - 3000 && c.open) {
      await sleep(rand(gap[0], gap[1]));
      gap = a.sessionGapMs;
      try {
        await c.startSession(`TAG${i}`, rec);
      } catch {
        fail('session start');
        continue;
      }
      const mv = setInterval(() => c.open && void timed('MeterValues', c.meterValues()), a.meterIntervalMs);
      timers.add(mv);
      // First sample at a random phase so the chargers' meter values interleave.
      const first = setTimeout(() => c.open && void timed('MeterValues', c.meterValues()), rand(0, a.meterIntervalMs));
      timers.add(first);
      const length = rand(a.sessionMs[0], a.sessionMs[1]);
      // A session that would outlast the window just keeps charging: forcing every open session to
      // stop at the window's end would be a burst of stops that no depot produces.
      if (performance.now() + length > endAt - 2000) return;
      await sleep(length);
      clearInterval(mv);
      clearTimeout(first);
      try {
        await c.stopSession(rec);
      } catch {
        fail('session stop');
      }
    }
  };

  // CMS → charger calls to random chargers that the CMS sees connected (direct or through the proxy).
  let k = 0;
  const remote = setInterval(() => {
    const id = `CP${Math.floor(Math.random() * a.n)}`;
    if (!server.connected(id)) return;
    const [action, payload] = REMOTE[k++ % REMOTE.length] as [string, Record<string, unknown>];
    void timed(`remote ${action}`, server.call(id, action, payload));
  }, a.remoteEveryMs);

  const received0 = server.received;
  await Promise.all(Array.from({ length: a.n }, (_, i) => life(i)));
  const left = endAt - performance.now();
  if (left > 0) await sleep(left);
  clearInterval(remote);
  for (const t of timers) clearTimeout(t);
  await Promise.allSettled(chargers.map((c) => c.close()));
  return { samples, errors, connected: chargers.length, cmsReceived: server.received - received0 };
}

/** Reconnects of one charger: connect, BootNotification, close — `count` times in a row. */
async function reconnect(a: { url: string; id: string; count: number }) {
  let failed = 0;
  const t0 = performance.now();
  for (let i = 0; i < a.count; i++) {
    try {
      const c = await ChargerPeer.connect({ url: a.url, id: a.id });
      await c.boot();
      await c.close();
    } catch {
      failed++;
    }
  }
  return { failed, ms: performance.now() - t0 };
}

serve({
  async startCms() {
    cms = new CmsPeer();
    return { url: await cms.ready() };
  },
  traffic,
  reconnect,
  async stop() {
    await cms?.close();
    setTimeout(() => process.exit(0), 50);
    return {};
  },
});
