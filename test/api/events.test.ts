import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { SessionInfo } from '../../src/bus/events.js';
import { reading } from '../../src/model/reading.js';
import { ADMIN_KEY, type ApiFixture, apiFixture, auth, evseSpec } from './fixture.js';
import { SseReader } from './sse-client.js';

const session = (id: string, extra: Partial<SessionInfo> = {}): SessionInfo => ({
  id,
  evseId: 'CP01/1',
  chargerId: 'CP01',
  connectorId: 1,
  idTag: 'TAG1',
  startedAt: Date.UTC(2026, 0, 1),
  energyWh: 0,
  syncState: 'pending',
  ...extra,
});

describe('live events (SSE and WebSocket)', () => {
  let f: ApiFixture | undefined;
  const readers: SseReader[] = [];
  afterEach(async () => {
    for (const r of readers.splice(0)) r.close();
    await f?.close();
    f = undefined;
  });

  async function started(overrides: Parameters<typeof apiFixture>[0] = {}) {
    f = await apiFixture({ anonymousRead: true, ...overrides });
    await f.api.start();
    return f;
  }
  const open = async (path: string, headers: Record<string, string> = {}) => {
    const r = await SseReader.open(`${f!.api.url()}${path}`, headers);
    readers.push(r);
    return r;
  };

  it('streams typed events with monotonic ids, filtered by type', async () => {
    const { core } = await started();
    const all = await open('/api/v1/events?types=evse.status,session.*,device.*');
    const sessions = await open('/api/v1/events?types=session.*');
    expect(all.res.headers['content-type']).toMatch(/^text\/event-stream/);

    core.bus.emit('evse.spec', evseSpec('CP01'));
    core.bus.emit('evse.live', {
      id: 'CP01/1',
      patch: { status: 'Charging', powerW: reading(7000, core.clock.now(), 'x') },
    });
    core.bus.emit('session.started', session('s1'));
    core.bus.emit('device', { id: 'meter', protocol: 'modbus', kind: 'meter', online: false });

    await all.waitFor(() => all.events().length >= 3);
    expect(all.events().map((e) => e.event)).toEqual(['evse.status', 'session.started', 'device.offline']);
    const ids = all.events().map((e) => Number(e.id));
    expect(ids[1]).toBeGreaterThan(ids[0]!);
    expect(ids[2]).toBeGreaterThan(ids[1]!);
    const body = JSON.parse(all.events()[1]!.data!);
    expect(body).toMatchObject({
      type: 'session.started',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      data: { sessionId: 's1', chargerId: 'CP01', idTag: 'TAG1', energyWh: 0 },
    });

    await sessions.waitFor(() => sessions.events().length >= 1);
    expect(sessions.events().map((e) => e.event)).toEqual(['session.started']);
  });

  it('a client that reconnects with Last-Event-ID gets exactly what it missed, in order', async () => {
    const { core } = await started();
    const first = await open('/api/v1/events?types=session.*');
    core.bus.emit('session.started', session('a'));
    await first.waitFor(() => first.events().length === 1);
    const lastId = first.events()[0]!.id!;
    first.close();

    core.bus.emit('session.updated', session('a', { energyWh: 100 }));
    core.bus.emit('evse.spec', evseSpec('CP09'));
    core.bus.emit('session.stopped', session('a', { energyWh: 200, stoppedAt: Date.UTC(2026, 0, 1, 1) }));

    const again = await open('/api/v1/events?types=session.*', { 'last-event-id': lastId });
    await again.waitFor(() => again.events().length >= 2);
    expect(again.events().map((e) => e.event)).toEqual(['session.updated', 'session.stopped']);
    const stopped = JSON.parse(again.events()[1]!.data!);
    expect(stopped.data).toMatchObject({ energyWh: 200, durationS: 3600, co2G: expect.any(Number), cost: 0.06 });
  });

  it('tells a resuming client when events it asks for are no longer retained', async () => {
    const { integration } = await started({ overrides: { api: { events: { retain: 100 } } } });
    for (let i = 0; i < 150; i++) integration.hub.publish('grid.event', { i });
    const r = await open('/api/v1/events', { 'last-event-id': '1' });
    await r.waitFor(() => r.events().length >= 101);
    expect(r.events()[0]).toMatchObject({ event: 'gap' });
    expect(JSON.parse(r.events()[0]!.data!)).toMatchObject({ requestedAfter: 1, oldestRetained: 51 });
    expect(r.events()[1]!.id).toBe('51');
    expect(r.events().at(-1)!.id).toBe('150');
  });

  it('cuts off a client that stops reading, with a resume hint, while a reading client gets everything', async () => {
    const { integration, core } = await started({ overrides: { api: { events: { clientBufferBytes: 65_536 } } } });
    const fast = await open('/api/v1/events');
    // The slow client sends its request and then never reads.
    const url = new URL(f!.api.url());
    const slow = connect({ host: url.hostname, port: Number(url.port) });
    slow.setNoDelay(true);
    const slowChunks: Buffer[] = [];
    await new Promise<void>((resolve) => slow.once('connect', resolve));
    slow.write(`GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
    await new Promise<void>((resolve) =>
      slow.once('data', (c: Buffer) => {
        slowChunks.push(c);
        resolve();
      }),
    );
    slow.pause();

    const payload = 'x'.repeat(2000);
    const total = 6000;
    for (let i = 0; i < total; i++) {
      integration.hub.publish('grid.event', { i, payload });
      if (i % 5 === 4) await new Promise((r) => setImmediate(r));
    }
    await fast.waitFor(() => fast.events().length >= total || fast.ended, 15_000);
    expect(fast.events('overflow')).toEqual([]);
    expect(fast.events().map((e) => JSON.parse(e.data!).data.i)).toEqual([...Array(total).keys()]);

    const metrics = await core.metrics.getSingleMetric('gridkeeper_api_live_cutoffs_total')!.get();
    expect(metrics.values.find((v) => v.labels.transport === 'sse')?.value).toBe(1);

    // What the slow client finally reads ends with the overflow notice naming where to resume.
    slow.on('data', (c: Buffer) => slowChunks.push(c));
    slow.resume();
    await new Promise<void>((resolve) => slow.once('close', () => resolve()));
    const text = Buffer.concat(slowChunks).toString('utf8');
    const m = /event: overflow\ndata: (\{.*\})\n\n/.exec(text);
    expect(m).not.toBeNull();
    const { resumeAfter } = JSON.parse(m![1]!);
    const lastIdSeen = [...text.matchAll(/^id: (\d+)$/gm)].map((x) => Number(x[1])).at(-1);
    expect(resumeAfter).toBe(lastIdSeen);
    expect(resumeAfter).toBeLessThan(total);
  });

  it('WebSocket clients get the same events and can resume with lastEventId', async () => {
    const { core } = await started({ anonymousRead: false });
    const wsUrl = `${f!.api.url().replace('http', 'ws')}/api/v1/ws?types=session.*`;
    const ws = new WebSocket(wsUrl, { headers: auth(ADMIN_KEY) });
    const msgs: Array<{ id: number; type: string; data: Record<string, unknown> }> = [];
    ws.on('message', (m) => msgs.push(JSON.parse(String(m))));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    try {
      core.bus.emit('session.started', session('w1'));
      core.bus.emit('evse.spec', evseSpec('CP02'));
      core.bus.emit('session.stopped', session('w1', { stoppedAt: Date.UTC(2026, 0, 1, 0, 30) }));
      const deadline = Date.now() + 5000;
      while (msgs.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(msgs.map((m) => m.type)).toEqual(['session.started', 'session.stopped']);
      expect(msgs[0]!.data.sessionId).toBe('w1');
    } finally {
      ws.close();
    }

    // Resume from the first id: only the second comes again.
    const ws2 = new WebSocket(`${wsUrl}&lastEventId=${msgs[0]!.id}`, { headers: auth(ADMIN_KEY) });
    const msgs2: Array<{ type: string }> = [];
    ws2.on('message', (m) => msgs2.push(JSON.parse(String(m))));
    try {
      const deadline = Date.now() + 5000;
      while (msgs2.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(msgs2.map((m) => m.type)).toEqual(['session.stopped']);
    } finally {
      ws2.close();
    }

    // Without a key the upgrade is refused.
    const anon = new WebSocket(wsUrl);
    const status = await new Promise<number>((resolve) => {
      anon.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      anon.on('open', () => resolve(101));
      anon.on('error', () => undefined);
    });
    anon.terminate();
    expect(status).toBe(401);
  });

  it('cuts off a WebSocket client that stops reading, telling it where to resume', async () => {
    const { integration, core } = await started({ overrides: { api: { events: { clientBufferBytes: 65_536 } } } });
    const ws = new WebSocket(`${f!.api.url().replace('http', 'ws')}/api/v1/ws`);
    const msgs: string[] = [];
    let closeCode = 0;
    ws.on('message', (m) => msgs.push(String(m)));
    const closed = new Promise<void>((resolve) =>
      ws.on('close', (code) => {
        closeCode = code;
        resolve();
      }),
    );
    await new Promise<void>((resolve) => ws.once('open', () => resolve()));
    try {
      const socket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      socket.pause();
      const payload = 'y'.repeat(2000);
      for (let i = 0; i < 6000; i++) {
        integration.hub.publish('grid.event', { i, payload });
        if (i % 5 === 4) await new Promise((r) => setImmediate(r));
      }
      const m = await core.metrics.getSingleMetric('gridkeeper_api_live_cutoffs_total')!.get();
      expect(m.values.find((v) => v.labels.transport === 'ws')?.value).toBe(1);
      socket.resume();
      await closed;
      expect(closeCode).toBe(1013);
      const last = JSON.parse(msgs.at(-1)!);
      expect(last.type).toBe('overflow');
      const lastEvent = msgs
        .map((x) => JSON.parse(x))
        .filter((x) => x.type === 'grid.event')
        .at(-1);
      expect(last.resumeAfter).toBe(lastEvent.id);
    } finally {
      ws.terminate();
    }
  });
});
