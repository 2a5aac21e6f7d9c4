/**
 * The gateway's live heap, read from outside through the V8 inspector of the
 * process (`--inspect` on a loopback port, set through NODE_OPTIONS by the
 * bench): a forced full GC, then `process.memoryUsage()`. RSS alone cannot
 * tell a leak from garbage that V8 has not collected yet: over 4000
 * reconnects the same gateway showed +2 MiB in one run and +141 MiB in the
 * next, depending on when its major GCs fell. No hook in the gateway.
 * Worker threads (the OCPP proxy runs in one with `ocpp.thread: worker`) are isolates with heaps of their own:
 * `liveHeap` collects and counts each of them too (the inspector's NodeWorker domain), so a leak in the proxy's
 * thread shows the same as one on the main thread.
 */
import WebSocket from 'ws';

export interface HeapProbe {
  /** Heap in use after a forced full GC, bytes, of the main thread and every worker thread; RSS beside it. */
  liveHeap(): Promise<{ heapUsed: number; rss: number; threads: number }>;
  /** `process.memoryUsage()` after a forced full GC. */
  memory(): Promise<NodeJS.MemoryUsage>;
  /** An expression evaluated in the gateway (diagnostics; the command-line API, e.g. `require`, is there). */
  evaluate(expression: string): Promise<unknown>;
  /** A CPU profile (V8's .cpuprofile JSON) over the next `ms`. */
  cpuProfile(ms: number): Promise<string>;
  /** Allocations sampled over the next `ms` (V8's sampling heap profile, garbage included), as JSON. */
  allocations(ms: number): Promise<string>;
  /** A heap snapshot (V8's JSON), taken after a GC. */
  snapshot(): Promise<string>;
  close(): void;
}

export async function connectHeapProbe(inspectPort: number): Promise<HeapProbe> {
  const list = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as Array<{
    webSocketDebuggerUrl: string;
  }>;
  const target = list[0]?.webSocketDebuggerUrl;
  if (!target) throw new Error('no inspector target');
  const ws = new WebSocket(target, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let seq = 0;
  const waiting = new Map<number, (r: unknown) => void>();
  let chunks: string[] = [];
  // Worker threads attached through NodeWorker: their session ids; their answers come wrapped in events.
  const workers = new Set<string>();
  const onMessage = (text: string): void => {
    const m = JSON.parse(text) as {
      id?: number;
      result?: unknown;
      method?: string;
      params?: {
        chunk: string;
        sessionId?: string;
        message?: string;
        workerInfo?: { workerId: string };
      };
    };
    if (m.method === 'HeapProfiler.addHeapSnapshotChunk' && m.params) chunks.push(m.params.chunk);
    if (m.method === 'NodeWorker.attachedToWorker' && m.params?.sessionId) workers.add(m.params.sessionId);
    if (m.method === 'NodeWorker.detachedFromWorker' && m.params?.sessionId) workers.delete(m.params.sessionId);
    if (m.method === 'NodeWorker.receivedMessageFromWorker' && m.params?.message) onMessage(m.params.message);
    if (m.id !== undefined) waiting.get(m.id)?.(m.result);
  };
  ws.on('message', (data) => onMessage(String(data)));
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve) => {
      const id = ++seq;
      waiting.set(id, (r) => {
        waiting.delete(id);
        resolve(r);
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  // Ids of calls into a worker share the counter, so one `waiting` map settles both.
  const sendToWorker = (sessionId: string, method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve) => {
      const id = ++seq;
      waiting.set(id, (r) => {
        waiting.delete(id);
        resolve(r);
      });
      ws.send(
        JSON.stringify({
          id: ++seq,
          method: 'NodeWorker.sendMessageToWorker',
          params: { sessionId, message: JSON.stringify({ id, method, params }) },
        }),
      );
    });
  await send('NodeWorker.enable', { waitForDebuggerOnStart: false });
  const workerHeap = async (sessionId: string): Promise<number> => {
    await sendToWorker(sessionId, 'HeapProfiler.collectGarbage');
    await sendToWorker(sessionId, 'HeapProfiler.collectGarbage');
    const r = (await sendToWorker(sessionId, 'Runtime.evaluate', {
      expression: 'process.memoryUsage().heapUsed',
      returnByValue: true,
    })) as { result: { value: number } };
    return r.result.value;
  };
  const memory = async (): Promise<NodeJS.MemoryUsage> => {
    // Two passes: objects freed by finalisers of the first go in the second.
    await send('HeapProfiler.collectGarbage');
    await send('HeapProfiler.collectGarbage');
    const r = (await send('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    })) as { result: { value: string } };
    return JSON.parse(r.result.value) as NodeJS.MemoryUsage;
  };
  return {
    memory,
    async liveHeap() {
      const m = await memory();
      let heapUsed = m.heapUsed;
      for (const w of workers) heapUsed += await workerHeap(w);
      return { heapUsed, rss: m.rss, threads: 1 + workers.size };
    },
    async evaluate(expression) {
      const r = (await send('Runtime.evaluate', { expression, returnByValue: true, includeCommandLineAPI: true })) as {
        result: { value: unknown };
      };
      return r.result.value;
    },
    async cpuProfile(ms) {
      await send('Profiler.enable');
      await send('Profiler.setSamplingInterval', { interval: 500 });
      await send('Profiler.start');
      await new Promise((r) => setTimeout(r, ms));
      const r = (await send('Profiler.stop')) as { profile: unknown };
      return JSON.stringify(r.profile);
    },
    async allocations(ms) {
      await send('HeapProfiler.enable');
      await send('HeapProfiler.startSampling', {
        samplingInterval: 16384,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
      await new Promise((r) => setTimeout(r, ms));
      const r = (await send('HeapProfiler.stopSampling')) as { profile: unknown };
      return JSON.stringify(r.profile);
    },
    async snapshot() {
      chunks = [];
      await send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
      const out = chunks.join('');
      chunks = [];
      return out;
    },
    close: () => ws.close(),
  };
}
