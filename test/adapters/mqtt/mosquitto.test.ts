import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type MqttAdapter, createMqttAdapter } from '../../../adapters/mqtt/index.js';
import type { GatewayEvents } from '../../../src/bus/events.js';
import { validateConfig } from '../../../src/config/load.js';
import { VirtualClock } from '../../../src/model/clock.js';
import { reading } from '../../../src/model/reading.js';
import { silentLogger } from '../../../src/util/logger.js';
import { buildingLoadDeviceConfig } from '../../../sim/devices/mqtt/building-load.js';
import {
  busAndMetrics,
  makeTlsFiles,
  type Mosquitto,
  mqttConfig,
  parseSubOutput,
  runTool,
  startMosquitto,
  waitFor,
} from './helpers.js';

/*
 * Against Debian's mosquitto and its command-line clients: an independent
 * broker, publisher and subscriber. These tests fail (never skip) when the
 * binaries are missing: apt-get install -y mosquitto mosquitto-clients.
 */

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function mosquitto(opts: Parameters<typeof startMosquitto>[0] = {}): Promise<Mosquitto> {
  const m = await startMosquitto(opts);
  cleanups.push(() => m.stop());
  return m;
}

async function adapterOn(port: number, extra: Record<string, unknown> = {}) {
  const clock = new VirtualClock();
  const { bus, metrics } = busAndMetrics();
  const adapter: MqttAdapter = createMqttAdapter(
    mqttConfig({
      broker: 'external',
      url: `mqtt://127.0.0.1:${port}`,
      devices: [
        buildingLoadDeviceConfig('site/building/meter'),
        { id: 'pv1', role: 'pv', points: [{ topic: 'pv/1/w', unit: 'kW' }] },
      ],
      ...extra,
    }),
    { clock, log: silentLogger(), bus, metrics, siteId: 'depot' },
  );
  cleanups.push(() => adapter.stop());
  await adapter.start();
  return { clock, bus, adapter };
}

describe('MQTT adapter against mosquitto', () => {
  it('takes device data published with mosquitto_pub', async () => {
    const m = await mosquitto();
    const { bus, adapter } = await adapterOn(m.port);
    expect(adapter.connected).toBe(true);
    expect(adapter.brokerPort).toBeUndefined();
    const loads: GatewayEvents['load'][] = [];
    const pv: GatewayEvents['pv'][] = [];
    bus.on('load', (l) => loads.push(l));
    bus.on('pv', (p) => pv.push(p));
    const pub = (t: string, msg: string) => runTool('mosquitto_pub', ['-p', String(m.port), '-t', t, '-m', msg]);
    await pub('site/building/meter', '{"power":{"total":3.2},"energy":17.5}');
    await pub('pv/1/w', '4.75');
    await pub('pv/1/w', 'garbage');
    await waitFor(() => loads.length === 1 && pv.length === 1, 'readings from mosquitto_pub');
    expect(loads[0]?.powerW?.value).toBe(3200);
    expect(loads[0]?.energyWh?.value).toBe(17_500);
    expect(pv[0]?.powerW?.value).toBe(4750);
  });

  it('publishes state and retained discovery that mosquitto_sub sees', async () => {
    const m = await mosquitto();
    const { bus, clock } = await adapterOn(m.port);
    bus.emit('grid', { powerW: reading(-1500, clock.now(), 'meter') });
    bus.emit('battery', {
      socPct: reading(55.5, clock.now(), 'bms'),
      powerW: reading(2500, clock.now(), 'bms'),
      cellTempMaxC: reading(31.25, clock.now(), 'bms'),
    });
    const sub = (topic: string, count: number) =>
      runTool('mosquitto_sub', ['-p', String(m.port), '-t', topic, '-v', '-C', String(count), '-W', '5']);

    const state = parseSubOutput(await sub('gridkeeper/depot/#', 9));
    expect(state.get('gridkeeper/depot/status')).toBe('online');
    expect(state.get('gridkeeper/depot/grid/powerW')).toBe('-1500');
    expect(state.get('gridkeeper/depot/battery/socPct')).toBe('55.5');
    expect(state.get('gridkeeper/depot/battery/powerW')).toBe('2500');
    expect(state.get('gridkeeper/depot/battery/cellTempMaxC')).toBe('31.25');
    // The MQTT devices themselves are listed, offline until their first message.
    expect(state.get('gridkeeper/depot/building/online')).toBe('OFF');

    const disc = parseSubOutput(await sub('homeassistant/#', 7));
    const soc = JSON.parse(disc.get('homeassistant/sensor/gridkeeper_depot/battery_socPct/config') ?? '{}');
    expect(soc).toMatchObject({
      device_class: 'battery',
      unit_of_measurement: '%',
      state_topic: 'gridkeeper/depot/battery/socPct',
    });
    expect(disc.has('homeassistant/number/gridkeeper_depot/site_limit/config')).toBe(true);
    const temp = JSON.parse(disc.get('homeassistant/sensor/gridkeeper_depot/battery_cellTempMaxC/config') ?? '{}');
    expect(temp).toMatchObject({ device_class: 'temperature', unit_of_measurement: '°C' });
  });

  it('re-sends state after the broker restarts on the same port', async () => {
    const m = await mosquitto();
    const { bus, clock, adapter } = await adapterOn(m.port);
    bus.emit('grid', { powerW: reading(700, clock.now(), 'meter') });
    await m.stop();
    await waitFor(() => !adapter.connected, 'disconnect');
    await mosquitto({ port: m.port });
    await waitFor(() => adapter.connected, 'reconnect', 10_000);
    const out = parseSubOutput(
      await runTool('mosquitto_sub', [
        '-p',
        String(m.port),
        '-t',
        'gridkeeper/depot/grid/#',
        '-v',
        '-C',
        '1',
        '-W',
        '5',
      ]),
    );
    expect(out.get('gridkeeper/depot/grid/powerW')).toBe('700');
  });

  it('authenticates with user and password from the environment', async () => {
    const m = await mosquitto({ users: { gateway: 's3cret' } });
    // The config's own `$` + `{ENV}` syntax (split so no linter takes it for a template).
    const raw = {
      site: { id: 'depot', limitW: 10_000, failsafeLimitW: 1000 },
      mqtt: {
        enabled: true,
        broker: 'external',
        url: `mqtt://127.0.0.1:${m.port}`,
        username: '$' + '{MQTT_USERNAME}',
        password: '$' + '{MQTT_PASSWORD}',
      },
    };
    const good = validateConfig(raw, { MQTT_USERNAME: 'gateway', MQTT_PASSWORD: 's3cret' });
    const bad = validateConfig(raw, { MQTT_USERNAME: 'gateway', MQTT_PASSWORD: 'wrong' });
    if (!good.ok || !bad.ok) throw new Error('config invalid');
    const deps = () => ({ clock: new VirtualClock(), log: silentLogger(), ...busAndMetrics(), siteId: 'depot' });

    const refused = createMqttAdapter({ ...bad.config.mqtt, clientId: 'gk-bad' }, deps());
    cleanups.push(() => refused.stop());
    await refused.start();
    expect(refused.connected).toBe(false);

    const ok = createMqttAdapter({ ...good.config.mqtt, clientId: 'gk-good' }, deps());
    cleanups.push(() => ok.stop());
    await ok.start();
    expect(ok.connected).toBe(true);
    const status = await runTool('mosquitto_sub', [
      '-p',
      String(m.port),
      '-u',
      'gateway',
      '-P',
      's3cret',
      '-t',
      'gridkeeper/depot/status',
      '-C',
      '1',
      '-W',
      '5',
    ]);
    expect(status.trim()).toBe('online');
  });

  it('connects over TLS with the configured CA, and refuses a broker it cannot verify', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-mqtt-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const tls = await makeTlsFiles(dir);
    const m = await mosquitto({ tls });
    const deps = () => ({ clock: new VirtualClock(), log: silentLogger(), ...busAndMetrics(), siteId: 'tls' });
    const url = `mqtts://127.0.0.1:${m.port}`;

    const untrusted = createMqttAdapter(mqttConfig({ broker: 'external', url, clientId: 'gk-untrusted' }), deps());
    cleanups.push(() => untrusted.stop());
    await untrusted.start();
    expect(untrusted.connected).toBe(false);

    const trusted = createMqttAdapter(
      mqttConfig({ broker: 'external', url, clientId: 'gk-trusted', tls: { ca: tls.ca } }),
      deps(),
    );
    cleanups.push(() => trusted.stop());
    await trusted.start();
    expect(trusted.connected).toBe(true);
    const status = await runTool('mosquitto_sub', [
      '-p',
      String(m.port),
      '--cafile',
      tls.ca,
      '-h',
      '127.0.0.1',
      '-t',
      'gridkeeper/tls/status',
      '-C',
      '1',
      '-W',
      '5',
    ]);
    expect(status.trim()).toBe('online');
  });

  it('the broker announces "offline" through the last will when the gateway is killed', async () => {
    const m = await mosquitto();
    const script = fileURLToPath(new URL('./fixtures/adapter-process.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, String(m.port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stdout?.on('data', (d) => {
      out += String(d);
    });
    await waitFor(() => out.includes('ready') || out.includes('not connected'), 'child gateway', 15_000);
    expect(out).toContain('ready');
    const sub = (c: number) =>
      runTool('mosquitto_sub', ['-p', String(m.port), '-t', 'gridkeeper/lwt/status', '-C', String(c), '-W', '5']);
    expect((await sub(1)).trim()).toBe('online');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    await waitFor(async () => (await sub(1)).trim() === 'offline', 'last will', 8000);
  });
});
