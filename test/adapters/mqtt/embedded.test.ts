import { type MqttClient, connectAsync } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { type MqttAdapter, type MqttCommand, createMqttAdapter } from '../../../adapters/mqtt/index.js';
import { VirtualClock } from '../../../src/model/clock.js';
import { reading } from '../../../src/model/reading.js';
import { silentLogger } from '../../../src/util/logger.js';
import { startBuildingLoadSim } from '../../../sim/devices/mqtt/building-load.js';
import { buildingLoadDeviceConfig } from '../../../sim/devices/mqtt/building-load.js';
import { evseSpec } from '../../helpers/evse.js';
import { busAndMetrics, captureLogger, counterValue, mqttConfig, waitFor } from './helpers.js';
import { recordEvents } from '../../helpers/bus.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function client(port: number): Promise<MqttClient> {
  const c = await connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
  cleanups.push(() => c.endAsync(true));
  return c;
}

/** Collect every message on `filter` (topic -> [payload, retain]). */
async function collect(c: MqttClient, filter: string) {
  const got = new Map<string, { payload: string; retain: boolean }>();
  c.on('message', (topic, payload, packet) => got.set(topic, { payload: payload.toString(), retain: packet.retain }));
  await c.subscribeAsync(filter);
  return got;
}

const devices = [
  buildingLoadDeviceConfig('site/building/meter'),
  { id: 'meter', role: 'grid' as const, staleAfterMs: 3000, points: [{ topic: 'meter/power', unit: 'W' as const }] },
  {
    id: 'bms',
    role: 'battery' as const,
    points: [
      { quantity: 'soc' as const, topic: 'bms/state', jsonPath: '$.soc' },
      { quantity: 'power' as const, topic: 'bms/state', jsonPath: 'p', scale: -1 },
    ],
  },
];

async function startAdapter(
  opts: { onCommand?: (c: MqttCommand) => void | Promise<void>; log?: ReturnType<typeof silentLogger> } = {},
) {
  const clock = new VirtualClock();
  const { bus, metrics } = busAndMetrics();
  const adapter: MqttAdapter = createMqttAdapter(mqttConfig({ port: 0, devices }), {
    clock,
    log: opts.log ?? silentLogger(),
    bus,
    metrics,
    siteId: 'test',
    onCommand: opts.onCommand,
  });
  const deviceEvents = recordEvents(bus, 'device');
  await adapter.start();
  cleanups.push(() => adapter.stop());
  const port = adapter.brokerPort;
  if (port === undefined) throw new Error('no broker port');
  return { clock, bus, metrics, adapter, port, deviceEvents };
}

describe('MQTT adapter with the embedded broker', () => {
  it('maps JSON and plain payloads to bus readings with scale, unit and source', async () => {
    const { bus, port, clock, deviceEvents, adapter } = await startAdapter();
    expect(adapter.url()).toBe(`mqtt://127.0.0.1:${port}`);
    expect(deviceEvents.map((d) => [d.id, d.online])).toEqual([
      ['building', false],
      ['meter', false],
      ['bms', false],
    ]);
    const loads = recordEvents(bus, 'load');
    const grid = recordEvents(bus, 'grid');
    const battery = recordEvents(bus, 'battery');
    const c = await client(port);
    await c.publishAsync('site/building/meter', JSON.stringify({ power: { total: 12.5 }, energy: 1.25 }));
    await c.publishAsync('meter/power', ' 4200.5 ');
    await c.publishAsync('bms/state', JSON.stringify({ soc: 61, p: 3000 }));
    await waitFor(() => loads.length > 0 && grid.length > 0 && battery.length > 0, 'readings on the bus');

    expect(loads[0]?.id).toBe('building');
    expect(loads[0]?.powerW).toEqual(reading(12_500, clock.now(), 'building'));
    expect(loads[0]?.energyWh?.value).toBe(1250);
    expect(grid[0]).toEqual({ powerW: reading(4200.5, clock.now(), 'meter') });
    // One bus event per message even when two points share the topic; scale -1 flips the sign.
    expect(battery).toHaveLength(1);
    expect(battery[0]?.socPct?.value).toBe(61);
    expect(battery[0]?.powerW?.value).toBe(-3000);
    expect(deviceEvents.filter((d) => d.online).map((d) => d.id)).toEqual(['building', 'meter', 'bms']);
    expect(deviceEvents.at(-1)).toMatchObject({ protocol: 'mqtt', kind: 'battery' });
  });

  it('logs malformed payloads with the topic, counts them and keeps running', async () => {
    const { log, lines } = captureLogger();
    const { bus, port, metrics } = await startAdapter({ log });
    const grid = recordEvents(bus, 'grid');
    const c = await client(port);
    await c.publishAsync('meter/power', 'not a number');
    await c.publishAsync('site/building/meter', '{"power": {"total": ');
    await c.publishAsync('site/building/meter', JSON.stringify({ power: {} }));
    await c.publishAsync('bms/state', Buffer.from([0xff, 0x00, 0xfe]));
    await waitFor(
      async () => (await counterValue(metrics, 'gridkeeper_mqtt_malformed_total')) >= 7,
      'malformed counter',
    );
    // building: 2 points x 2 bad messages, meter 1, bms 2 points x 1 = 7
    await c.publishAsync('meter/power', '100');
    await waitFor(() => grid.length === 1, 'a good reading after the bad ones');
    expect(await counterValue(metrics, 'gridkeeper_mqtt_malformed_total')).toBe(7);
    expect(await counterValue(metrics, 'gridkeeper_mqtt_malformed_total', { source: 'meter' })).toBe(1);
    const warn = lines.find((l) => l.msg === 'malformed MQTT message' && l.topic === 'meter/power');
    expect(warn).toMatchObject({ source: 'meter', error: expect.stringContaining('not a number') });
    expect(grid[0]?.powerW?.value).toBe(100);
    const metricsText = await metrics.metrics();
    expect(metricsText).toContain('gridkeeper_mqtt_malformed_total{source="building"} 4');
  });

  it('marks a quiet device offline and its readings stale on the virtual clock', async () => {
    const { bus, port, clock, deviceEvents } = await startAdapter();
    const grid = recordEvents(bus, 'grid');
    const c = await client(port);
    await c.publishAsync('meter/power', '500');
    await waitFor(() => grid.length === 1, 'grid reading');
    const t0 = clock.now();
    clock.advance(2500);
    expect(deviceEvents.filter((d) => d.id === 'meter').at(-1)?.online).toBe(true);
    clock.advance(1500);
    const last = deviceEvents.filter((d) => d.id === 'meter').at(-1);
    expect(last).toMatchObject({ online: false, lastSeen: t0, error: expect.stringContaining('no message') });
    expect(grid.at(-1)?.powerW).toEqual(reading(500, t0, 'meter', 'stale'));
    await c.publishAsync('meter/power', '510');
    await waitFor(() => grid.length === 3, 'fresh reading');
    expect(grid.at(-1)?.powerW?.quality).toBe('good');
    expect(deviceEvents.filter((d) => d.id === 'meter').at(-1)?.online).toBe(true);
  });

  it('publishes site state, set-points with reasons, availability and retained discovery', async () => {
    const { bus, port, clock } = await startAdapter();
    const spec = evseSpec('CP01/1');
    bus.emit('evse.spec', spec);
    bus.emit('grid', { powerW: reading(1234.56789, clock.now(), 'm') });
    bus.emit('evse.live', {
      id: 'CP01/1',
      patch: { status: 'Charging', powerW: reading(11_000, clock.now(), 'CP01') },
    });
    bus.emit('setpoint.changed', {
      ts: clock.now(),
      setpoint: {
        evseId: 'CP01/1',
        currentA: 16,
        powerW: 11_040,
        phases: 3,
        reasons: [{ policy: 'load-management', tier: 'contract', text: 'site limit 22000 W' }],
      },
    });
    bus.emit('failsafe', { active: true, reason: 'grid meter stale', ts: clock.now() });

    // A client that connects afterwards still sees everything: state is retained.
    const c = await client(port);
    const state = await collect(c, 'gridkeeper/test/#');
    await waitFor(() => state.size >= 7, 'retained state');
    expect(state.get('gridkeeper/test/status')).toEqual({ payload: 'online', retain: true });
    expect(state.get('gridkeeper/test/grid/powerW')?.payload).toBe('1234.568');
    expect(state.get('gridkeeper/test/CP01_1/status')?.payload).toBe('Charging');
    expect(state.get('gridkeeper/test/CP01_1/powerW')?.payload).toBe('11000');
    const sp = JSON.parse(state.get('gridkeeper/test/CP01_1/setpoint')?.payload ?? '{}');
    expect(sp).toMatchObject({ currentA: 16, powerW: 11_040, reason: 'contract/load-management: site limit 22000 W' });
    expect(JSON.parse(state.get('gridkeeper/test/site/failsafe')?.payload ?? '{}').active).toBe(true);
    expect(state.get('gridkeeper/test/meter/online')?.payload).toBe('OFF');

    const d = await client(port);
    const disc = await collect(d, 'homeassistant/#');
    await waitFor(() => disc.has('homeassistant/sensor/gridkeeper_test/grid_powerW/config'), 'discovery');
    const grid = JSON.parse(disc.get('homeassistant/sensor/gridkeeper_test/grid_powerW/config')?.payload ?? '{}');
    expect(grid).toMatchObject({
      state_topic: 'gridkeeper/test/grid/powerW',
      unit_of_measurement: 'W',
      device_class: 'power',
      availability_topic: 'gridkeeper/test/status',
      unique_id: 'gridkeeper_test_grid_powerW',
    });
    await waitFor(() => disc.has('homeassistant/number/gridkeeper_test/CP01_1_maxCurrent/config'), 'number');
    const num = JSON.parse(disc.get('homeassistant/number/gridkeeper_test/CP01_1_maxCurrent/config')?.payload ?? '{}');
    expect(num).toMatchObject({ command_topic: 'gridkeeper/test/CP01_1/maxCurrent/set', max: 32 });
    expect(disc.get('homeassistant/sensor/gridkeeper_test/grid_powerW/config')?.retain).toBe(true);

    // Unchanged values are not sent again; changed ones are.
    const live = await client(port);
    const seen: string[] = [];
    live.on('message', (topic, payload, packet) => {
      if (!packet.retain) seen.push(`${topic}=${payload}`);
    });
    await live.subscribeAsync('gridkeeper/test/grid/powerW');
    bus.emit('grid', { powerW: reading(1234.56789, clock.now(), 'm') });
    bus.emit('grid', { powerW: reading(2000, clock.now(), 'm') });
    await waitFor(() => seen.length >= 1, 'changed grid power');
    expect(seen).toEqual(['gridkeeper/test/grid/powerW=2000']);
  });

  it('validates commands, hands valid ones over and answers on /result', async () => {
    const commands: MqttCommand[] = [];
    const { bus, port, metrics } = await startAdapter({
      onCommand: (cmd) => {
        if (cmd.kind === 'battery.setpoint') throw new Error('no battery configured');
        commands.push(cmd);
      },
    });
    bus.emit('evse.spec', evseSpec('CP01/1'));
    const c = await client(port);
    const results = new Map<string, unknown[]>();
    c.on('message', (topic, payload) =>
      results.set(topic, [...(results.get(topic) ?? []), JSON.parse(String(payload))]),
    );
    await c.subscribeAsync('gridkeeper/test/+/+/set/result');
    const send = (t: string, p: string) => c.publishAsync(`gridkeeper/test/${t}/set`, p);

    await send('site/limit', '15000');
    await send('site/limit', JSON.stringify({ limitW: 9000, durationS: 600 }));
    await send('site/limit', 'null');
    await send('site/limit', '-5');
    await send('site/limit', '{"limitW": "lots"}');
    await send('CP01_1/maxCurrent', '{"currentA": 10}');
    await send('CP01_1/maxCurrent', '40');
    await send('CP99_1/maxCurrent', '10');
    await send('battery/setpoint', '2000');
    await waitFor(() => [...results.values()].flat().length === 9, 'nine results');

    expect(commands).toEqual([
      { kind: 'site.limit', limitW: 15_000 },
      { kind: 'site.limit', limitW: 9000, durationS: 600 },
      { kind: 'site.limit', limitW: null },
      { kind: 'evse.maxCurrent', evseId: 'CP01/1', currentA: 10 },
    ]);
    const site = results.get('gridkeeper/test/site/limit/set/result') as Array<{ ok: boolean; error?: string }>;
    expect(site.map((r) => r.ok)).toEqual([true, true, true, false, false]);
    expect(site[3]?.error).toMatch(/limitW/);
    const evse = results.get('gridkeeper/test/CP01_1/maxCurrent/set/result') as Array<{ ok: boolean; error?: string }>;
    expect(evse[1]?.error).toMatch(/<= 32/);
    expect(results.get('gridkeeper/test/CP99_1/maxCurrent/set/result')).toEqual([
      { ok: false, error: 'unknown EVSE "CP99_1"' },
    ]);
    expect(results.get('gridkeeper/test/battery/setpoint/set/result')).toEqual([
      { ok: false, error: 'no battery configured' },
    ]);
    expect(await counterValue(metrics, 'gridkeeper_mqtt_commands_total', { result: 'ok' })).toBe(4);
    expect(await counterValue(metrics, 'gridkeeper_mqtt_commands_total', { result: 'invalid' })).toBe(4);
    expect(await counterValue(metrics, 'gridkeeper_mqtt_malformed_total', { source: 'command' })).toBe(4);
  });

  it('hands subscribed topics to other components, before commands are considered', async () => {
    const { port, metrics, adapter } = await startAdapter({ onCommand: () => {} });
    const got: string[] = [];
    // The grid area's default simple-signal topic looks like a command topic; the subscription wins.
    const off = adapter.subscribe('gridkeeper/test/grid/limit/set', (t, p) => got.push(`${t}=${p}`));
    adapter.subscribe('prices/+/today', (t, p) => {
      if (String(p) === 'boom') throw new Error('bad price payload');
      got.push(`${t}=${p}`);
    });
    const c = await client(port);
    const results: string[] = [];
    c.on('message', (t) => results.push(t));
    await c.subscribeAsync('gridkeeper/test/+/+/set/result');
    await c.publishAsync('gridkeeper/test/grid/limit/set', '{"importLimitW":5000,"until":1}');
    await c.publishAsync('prices/epex/today', '[1,2]');
    await c.publishAsync('prices/epex/today', 'boom');
    await c.publishAsync('prices/epex/tomorrow', 'ignored');
    await waitFor(async () => (await counterValue(metrics, 'gridkeeper_mqtt_malformed_total')) === 1, 'handler error');
    expect(got).toEqual(['gridkeeper/test/grid/limit/set={"importLimitW":5000,"until":1}', 'prices/epex/today=[1,2]']);
    expect(await counterValue(metrics, 'gridkeeper_mqtt_malformed_total', { source: 'handler' })).toBe(1);
    expect(results).toEqual([]);
    off();
    await c.publishAsync('gridkeeper/test/site/limit/set', '1000');
    await waitFor(() => results.length === 1, 'command still works');
    expect(got).toHaveLength(2);
  });

  it('reads the simulated building meter and leaves no timers after stop', async () => {
    const { bus, port, clock, adapter } = await startAdapter();
    const loads = recordEvents(bus, 'load');
    const sim = await startBuildingLoadSim({ clock, url: `mqtt://127.0.0.1:${port}`, powerW: () => 7300 });
    cleanups.push(() => sim.stop());
    clock.advance(1000);
    await waitFor(() => loads.length >= 1, 'building load via the simulator');
    expect(loads[0]?.powerW?.value).toBe(7300);
    await sim.stop();
    await adapter.stop();
    expect(clock.pending()).toBe(0);
    expect(adapter.connected).toBe(false);
  });
});
