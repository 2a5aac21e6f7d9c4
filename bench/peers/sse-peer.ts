/**
 * Live-event clients: N Server-Sent-Events streams on plain node:http, in
 * their own process so their parsing does not load the gateway's or the
 * harness's event loop. Each frame's `energyWh` (which names the meter value
 * that caused it) is stamped on the system-wide monotonic clock at arrival.
 * Imports nothing of the gateway. Driven over IPC by bench/api.ts.
 */
import { Agent, type ClientRequest, request } from 'node:http';
import { monoMs } from './clock.js';
import { serve } from './ipc.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const reqs: ClientRequest[] = [];
/** Per client: the events received. */
let counts: number[] = [];
/** [energyWh, arrival] from every `sampleEvery`-th client. */
let samples: Array<[number, number]> = [];

serve({
  async connect(args: { url: string; n: number; token: string; sampleEvery: number }) {
    const agent = new Agent({ keepAlive: true, maxSockets: args.n + 10 });
    counts = Array<number>(args.n).fill(0);
    samples = [];
    let connected = 0;
    await new Promise<void>((resolve, reject) => {
      for (let c = 0; c < args.n; c++) {
        const req = request(
          args.url,
          { agent, headers: { accept: 'text/event-stream', authorization: `Bearer ${args.token}` } },
          (res) => {
            if (res.statusCode !== 200) reject(new Error(`SSE ${res.statusCode}`));
            if (++connected === args.n) resolve();
            res.setEncoding('utf8');
            let buf = '';
            res.on('data', (chunk: string) => {
              const at = monoMs();
              buf += chunk;
              for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
                const frame = buf.slice(0, i);
                buf = buf.slice(i + 2);
                const m = /"energyWh":([0-9.]+)/.exec(frame);
                if (!m) continue;
                counts[c] = (counts[c] ?? 0) + 1;
                if (c % args.sampleEvery === 0) samples.push([Number(m[1]), at]);
              }
            });
          },
        );
        req.on('error', reject);
        req.end();
        reqs.push(req);
      }
    });
    return { connected };
  },

  /** Waits until every client has `expected` events or nothing arrived for `quietMs`; returns the samples. */
  async collect(args: { expected: number; quietMs: number; timeoutMs: number }) {
    const t0 = monoMs();
    let last = -1;
    let moved = monoMs();
    while (monoMs() - t0 < args.timeoutMs) {
      const total = counts.reduce((s, x) => s + x, 0);
      if (counts.every((x) => x >= args.expected)) break;
      if (total !== last) {
        last = total;
        moved = monoMs();
      } else if (monoMs() - moved > args.quietMs) break;
      await sleep(20);
    }
    const out = { samples, min: Math.min(...counts), max: Math.max(...counts) };
    samples = [];
    counts = counts.map(() => 0);
    return out;
  },

  stop() {
    for (const r of reqs) r.destroy();
    setTimeout(() => process.exit(0), 50);
    return {};
  },
});
