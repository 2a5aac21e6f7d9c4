import { afterEach, describe, expect, it } from 'vitest';
import { createOpenAdrVen, type OpenAdrVen } from '../../../adapters/openadr/ven.js';
import { OpenAdrSchema } from '../../../src/config/sections/grid.js';
import { VirtualClock } from '../../../src/model/clock.js';
import { createMetricsRegistry } from '../../../src/util/metrics.js';
import { silentLogger } from '../../../src/util/logger.js';
import { createVtnSim, type VtnSim } from '../../../sim/utility/vtn.js';
import { adapterTestStore, routeHost } from '../../grid/helpers.js';

const T0 = Date.UTC(2026, 0, 1, 17);
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function setup(
  venOverrides: Record<string, unknown> = {},
  vtnOpts: { tokenTtlS?: number; skewMs?: number } = {},
) {
  const clock = new VirtualClock(T0);
  const vtn: VtnSim = createVtnSim({
    clock,
    programs: [{ programName: 'depot-dr' }, { programName: 'other' }],
    ...vtnOpts,
  });
  await vtn.start();
  closers.push(() => vtn.stop());
  const metrics = createMetricsRegistry({ defaultMetrics: false });
  const store = adapterTestStore(clock);
  const cfg = OpenAdrSchema.parse({
    enabled: true,
    vtnUrl: vtn.url,
    clientId: 'ven-client',
    clientSecret: 'ven-secret',
    venName: 'depot-1',
    programNames: ['depot-dr'],
    resources: ['battery'],
    // Tests poll and report explicitly; the timers stay out of the way.
    pollIntervalMs: 3_600_000,
    reportIntervalMs: 3_600_000,
    ...venOverrides,
  });
  let hostUrl: string | undefined;
  const ven: OpenAdrVen = createOpenAdrVen(cfg, {
    clock,
    log: silentLogger(),
    metrics,
    store,
    measurements: () => ({ siteW: 28_400, flexibleW: 50_000, resources: { battery: -20_000 } }),
    baseUrl: () => hostUrl,
  });
  const host = await routeHost((app) => ven.routes(app));
  closers.push(() => host.close());
  hostUrl = host.url;
  await ven.start();
  closers.push(() => ven.stop());
  await ven.pollNow();
  const programID = [...vtn.programs.values()].find((p) => p['programName'] === 'depot-dr')!.id;
  return { clock, vtn, ven, store, metrics, programID, host };
}

const at = (ms: number) => new Date(ms).toISOString();

function limitEvent(programID: string, startMs: number, kw: number, duration = 'PT1H', type = 'IMPORT_CAPACITY_LIMIT') {
  return {
    programID,
    eventName: 'evening-peak',
    payloadDescriptors: [{ objectType: 'EVENT_PAYLOAD_DESCRIPTOR', payloadType: type, units: 'KW' }],
    intervalPeriod: { start: at(startMs), duration },
    intervals: [{ id: 0, payloads: [{ type, values: [kw] }] }],
  };
}

describe('OpenADR 3 VEN against the VTN simulator (real HTTP)', () => {
  it('registers, finds its program, applies an import limit in W and reports the measured response', async () => {
    const { vtn, ven, store, programID, clock } = await setup();
    expect(ven.status().programs).toEqual([{ id: programID, name: 'depot-dr' }]);
    expect([...vtn.vens.values()][0]?.['venName']).toBe('depot-1');
    expect([...vtn.resources.values()].map((r) => r['resourceName']).sort()).toEqual(['battery', 'site']);
    expect(store.fallback(clock.now()).active).toBe(false);

    const ev = vtn.createEvent(limitEvent(programID, T0, 30));
    await ven.pollNow();
    const input = store.input(clock.now());
    expect(input.importLimits).toHaveLength(1);
    expect(input.importLimits[0]).toMatchObject({ value: 30_000, eventId: ev.id });
    expect(input.importLimits[0]?.label).toContain('evening-peak');

    clock.advance(60_000);
    await ven.reportNow();
    expect(vtn.reports).toHaveLength(1);
    const rep = vtn.reports[0]!;
    expect(rep).toMatchObject({ programID, eventID: ev.id, clientName: 'depot-1' });
    const resources = rep['resources'] as Array<{
      resourceName: string;
      intervals: Array<{ payloads: Array<{ type: string; values: number[] }> }>;
    }>;
    expect(resources[0]?.intervals[0]?.payloads[0]).toEqual({ type: 'DEMAND', values: [28.4] });
    expect(resources.find((r) => r.resourceName === 'battery')?.intervals[0]?.payloads[0]?.values).toEqual([-20]);
  });

  it('ignores events of programs it does not follow', async () => {
    const { vtn, ven, store, clock } = await setup();
    const other = [...vtn.programs.values()].find((p) => p['programName'] === 'other')!.id;
    vtn.createEvent(limitEvent(other, T0, 5));
    await ven.pollNow();
    expect(store.input(clock.now()).importLimits).toHaveLength(0);
  });

  it('fetches a new token when the VTN refuses the old one (401) and when it expires', async () => {
    const { vtn, ven, store, programID, clock } = await setup({}, { tokenTtlS: 600 });
    const before = vtn.stats.tokenRequests;
    vtn.expireTokens();
    vtn.createEvent(limitEvent(programID, T0, 25));
    await ven.pollNow();
    expect(vtn.stats.tokenRequests).toBe(before + 1);
    expect(store.input(clock.now()).importLimits[0]?.value).toBe(25_000);
    clock.advance(600_000);
    await ven.pollNow();
    expect(vtn.stats.tokenRequests).toBe(before + 2);
    expect(ven.status().lastError).toBeUndefined();
  });

  it.each([500, 503] as const)('engages the fallback while the VTN answers %d and releases it after', async (code) => {
    const { vtn, ven, store, clock, metrics } = await setup();
    vtn.setOutage(code);
    clock.advance(1000);
    await ven.pollNow();
    const fb = store.fallback(clock.now());
    expect(fb.active).toBe(true);
    expect(fb.importLimitW).toBe(11_000);
    expect(fb.why).toContain(`HTTP ${code}`);
    expect(await metrics.metrics()).toMatch(/gridkeeper_grid_source_up\{source="openadr"\} 0/);
    vtn.setOutage(null);
    await ven.pollNow();
    expect(store.fallback(clock.now()).active).toBe(false);
  });

  it('keeps a known event until its end while the VTN is down, never past it, and the fallback holds', async () => {
    const { vtn, ven, store, programID, clock } = await setup();
    vtn.createEvent(limitEvent(programID, T0, 30, 'PT10M'));
    await ven.pollNow();
    await vtn.stop();
    clock.advance(5 * 60_000);
    await ven.pollNow();
    let input = store.input(clock.now());
    expect(input.importLimits[0]?.value).toBe(30_000);
    expect(input.fallback?.why).toContain('openadr unreachable');
    clock.advance(5 * 60_000);
    input = store.input(clock.now());
    expect(input.importLimits).toHaveLength(0);
    expect(input.fallback?.importLimitW).toBe(11_000);
  });

  it('handles overlapping events and events that end', async () => {
    const { vtn, ven, store, programID, clock } = await setup();
    vtn.createEvent(limitEvent(programID, T0, 40, 'PT30M'));
    vtn.createEvent(limitEvent(programID, T0 + 10 * 60_000, 20, 'PT10M'));
    await ven.pollNow();
    const values = (t: number) =>
      store
        .input(t)
        .importLimits.map((l) => l.value)
        .sort();
    expect(values(T0 + 60_000)).toEqual([40_000]);
    expect(values(T0 + 15 * 60_000)).toEqual([20_000, 40_000]);
    expect(values(T0 + 25 * 60_000)).toEqual([40_000]);
    expect(values(T0 + 30 * 60_000)).toEqual([]);
    clock.advance(31 * 60_000);
    await ven.pollNow();
    expect(store.fallback(clock.now()).active).toBe(false); // the VTN confirmed after the end
  });

  it('follows updates and deletions of events', async () => {
    const { vtn, ven, store, programID, clock } = await setup();
    const ev = vtn.createEvent(limitEvent(programID, T0, 30));
    await ven.pollNow();
    clock.advance(1000);
    vtn.updateEvent(ev.id, limitEvent(programID, T0, 15));
    await ven.pollNow();
    expect(store.input(clock.now()).importLimits[0]?.value).toBe(15_000);
    vtn.deleteEvent(ev.id);
    await ven.pollNow();
    expect(store.input(clock.now()).importLimits).toHaveLength(0);
  });

  it('rejects a malformed update naming the field, counts it and keeps the previous version', async () => {
    const { vtn, ven, store, programID, clock, metrics } = await setup();
    const ev = vtn.createEvent(limitEvent(programID, T0, 30));
    await ven.pollNow();
    vtn.injectRawEvent({
      ...limitEvent(programID, T0, 30),
      id: ev.id,
      intervals: [{ id: 0, payloads: [{ type: 'IMPORT_CAPACITY_LIMIT', values: ['x'] }] }],
    });
    vtn.injectRawEvent({ id: 'broken', programID, intervals: 'none' });
    await ven.pollNow();
    expect(store.input(clock.now()).importLimits[0]?.value).toBe(30_000);
    const fields = ven.status().rejected.map((r) => r.field);
    expect(fields).toContain('intervals[id=0].payloads[0].values[0]');
    expect(fields).toContain('intervals');
    expect(await metrics.metrics()).toMatch(
      /gridkeeper_grid_signals_rejected_total\{source="openadr",field="intervals"\} 1/,
    );
  });

  it('tolerates and reports clock skew within the bound, flags it beyond', async () => {
    const { vtn, ven, store, programID, metrics } = await setup({ maxClockSkewMs: 30_000 }, { skewMs: 10_000 });
    expect(ven.status().clockSkewMs).toBe(10_000);
    vtn.createEvent(limitEvent(programID, T0 + 10_000, 30));
    await ven.pollNow();
    // The VTN's 17:00:10 is our 17:00:00.
    expect(store.active(T0, 'importLimit')).toHaveLength(1);
    expect(await metrics.metrics()).toMatch(/gridkeeper_grid_clock_skew_seconds\{source="openadr"\} 10/);
    vtn.setSkew(120_000);
    await ven.pollNow();
    expect(ven.status().clockSkewExceeded).toBe(true);
  });

  it('subscribes with a callback on the gateway server and polls when the VTN notifies a new event', async () => {
    // callbackPort is the deprecated own listener: it still asks for a subscription, at the server's address.
    const { vtn, ven, store, programID, clock, host } = await setup({ callbackPort: 0 });
    expect(ven.status().subscribed).toBe(true);
    expect(vtn.subscriptions.size).toBe(1);
    expect(ven.callbackUrl()).toBe(`${host.url}/openadr/callback`);
    const changed = new Promise<void>((resolve) =>
      store.onChange(() => store.active(clock.now(), 'importLimit').length > 0 && resolve()),
    );
    vtn.createEvent(limitEvent(programID, T0, 12));
    await changed;
    expect(store.input(clock.now()).importLimits[0]?.value).toBe(12_000);
    expect(ven.handleNotification({}, 'Bearer wrong')).toBe(403);
    const post = (auth: string, body: string) =>
      fetch(`${host.url}/openadr/callback`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body,
      });
    expect((await post('Bearer wrong', '{}')).status).toBe(403);
  });

  it('does not subscribe without a callback address, and serves the callback path it is configured with', async () => {
    const { vtn, ven, host } = await setup({ callbackPath: '/grid/adr-callback' });
    expect(ven.status().subscribed).toBe(false);
    expect(vtn.subscriptions.size).toBe(0);
    expect(ven.callbackUrl()).toBeUndefined();
    const res = await fetch(`${host.url}/grid/adr-callback`, { method: 'POST', body: 'not json' });
    expect(res.status).toBe(403);
    expect((await fetch(`${host.url}/openadr/callback`, { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('polls on its own on the injected clock and leaves no timer or socket after stop', async () => {
    const { vtn, ven, store, programID, clock } = await setup({ pollIntervalMs: 5000, reportIntervalMs: 60_000 });
    vtn.createEvent(limitEvent(programID, T0, 22));
    // Wait for the poll started at start() to have rescheduled itself, then move virtual time.
    const deadline = Date.now() + 2000;
    while (store.input(clock.now()).importLimits.length === 0 && Date.now() < deadline) {
      clock.advance(5000);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(store.input(clock.now()).importLimits[0]?.value).toBe(22_000);
    await ven.stop();
    expect(clock.pending()).toBe(0);
  });

  it('finds a configured program that the VTN publishes later', async () => {
    const { vtn, ven, store, clock } = await setup({ programNames: ['depot-dr', 'late-program'] });
    expect(ven.status().programs.map((p) => p.name)).toEqual(['depot-dr']);
    const late = vtn.createProgram({ programName: 'late-program' });
    vtn.createEvent(limitEvent(late.id, T0, 18));
    for (let i = 0; i < 30; i++) await ven.pollNow();
    expect(
      ven
        .status()
        .programs.map((p) => p.name)
        .sort(),
    ).toEqual(['depot-dr', 'late-program']);
    expect(store.input(clock.now()).importLimits[0]?.value).toBe(18_000);
  });
});
