import { type AddressInfo, createServer } from 'node:net';
import { setErrorLogger, setWarningLogger } from 'node-opcua';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type OpcuaAdapter, createOpcuaAdapter } from '../../../adapters/opcua/index.js';
import { createGatewayBus, type GatewayEvents } from '../../../src/bus/events.js';
import { OpcuaDeviceSchema, type OpcuaDeviceConfigInput } from '../../../src/config/sections/opcua.js';
import { VirtualClock } from '../../../src/model/clock.js';
import { silentLogger } from '../../../src/util/logger.js';
import { BMS_ALARM, BmsServer, bmsDeviceConfig } from '../../../sim/devices/opcua/bms-server.js';
import { SitePhysics } from '../../../sim/site/physics.js';
import { recordEvents } from '../../helpers/bus.js';

beforeAll(() => {
  // node-opcua prints reconnect attempts and Node-version notes to the console; the assertions say what matters.
  setWarningLogger(() => {});
  setErrorLogger(() => {});
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function waitFor(cond: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function bmsServer(clock: VirtualClock, extra: Partial<ConstructorParameters<typeof BmsServer>[0]> = {}) {
  const physics = new SitePhysics({ clock });
  const bms = new BmsServer({ clock, physics, port: 0, ...extra });
  await bms.start();
  cleanups.push(() => bms.stop());
  return { bms, physics };
}

function adapterFor(clock: VirtualClock, input: OpcuaDeviceConfigInput) {
  const bus = createGatewayBus();
  const cfg = OpcuaDeviceSchema.parse({ publishingIntervalMs: 100, samplingIntervalMs: 50, ...input });
  const adapter: OpcuaAdapter = createOpcuaAdapter(cfg, { clock, log: silentLogger(), bus });
  cleanups.push(() => adapter.stop());
  return { bus, adapter, battery: recordEvents(bus, 'battery'), devices: recordEvents(bus, 'device') };
}

const lastValue = (events: GatewayEvents['battery'][], key: keyof GatewayEvents['battery']) =>
  events.filter((e) => e[key] !== undefined).at(-1)?.[key];

describe('OPC UA adapter against the simulated BMS', () => {
  it('subscribes to the configured nodes and publishes battery readings and device status', async () => {
    const clock = new VirtualClock();
    const { bms } = await bmsServer(clock, { initialSocPct: 63 });
    expect(bms.port).toBeGreaterThan(0);
    const { adapter, battery, devices } = adapterFor(clock, bmsDeviceConfig(bms.endpointUrl));
    await adapter.start();
    expect(adapter.connected).toBe(true);
    await waitFor(() => lastValue(battery, 'socPct')?.value === 63, 'SoC');
    expect(lastValue(battery, 'socPct')).toEqual({ value: 63, ts: clock.now(), source: 'bms', quality: 'good' });
    expect(lastValue(battery, 'sohPct')?.value).toBe(97);
    expect(lastValue(battery, 'maxChargePowerW')?.value).toBe(50_000);
    expect(lastValue(battery, 'cellTempMaxC')?.value).toBe(26);
    expect(lastValue(battery, 'alarms')?.value).toBe(0);
    expect(devices.at(0)).toMatchObject({ id: 'bms', protocol: 'opcua', kind: 'battery', online: false });
    expect(devices.at(-1)).toMatchObject({ id: 'bms', online: true });

    // A change on the server arrives through the subscription, and refreshes the unchanged values too.
    clock.advance(5000);
    bms.sohPct = 91;
    bms.step();
    await waitFor(() => lastValue(battery, 'sohPct')?.value === 91, 'SoH change');
    expect(lastValue(battery, 'socPct')).toEqual({ value: 63, ts: clock.now(), source: 'bms', quality: 'good' });
    // The device's own lastSeen follows the reads, not only its coming online.
    expect(devices.at(-1)).toMatchObject({ id: 'bms', online: true, lastSeen: clock.now() });
  });

  it('writes a power set-point; the battery follows, SoC moves with the clock and the site sees the draw', async () => {
    const clock = new VirtualClock();
    const { bms, physics } = await bmsServer(clock, { initialSocPct: 50, capacityWh: 100_000 });
    const { adapter, battery, devices } = adapterFor(clock, bmsDeviceConfig(bms.endpointUrl));
    await adapter.start();

    await adapter.writeSetpoint(20_000);
    expect(bms.setpointW).toBe(20_000);
    expect(bms.powerW).toBe(20_000);
    expect(physics.controllableW()).toBe(20_000);
    await waitFor(() => lastValue(battery, 'powerW')?.value === 20_000, 'battery power');

    clock.advance(360_000); // 6 min at 20 kW into 100 kWh = +2 %
    expect(bms.socPct).toBeCloseTo(52, 6);
    await waitFor(() => Math.abs((lastValue(battery, 'socPct')?.value ?? 0) - 52) < 1e-3, 'SoC after 6 min');

    // Discharge through the SetpointSink interface the dispatcher uses.
    await adapter.applySetpoint({ evseId: 'battery', currentA: 0, powerW: -15_000, phases: 3, reasons: [] });
    expect(bms.powerW).toBe(-15_000);
    await waitFor(() => lastValue(battery, 'powerW')?.value === -15_000, 'discharge');

    // Beyond the BMS limit: power is clamped and the alarm shows up on the device status.
    await adapter.writeSetpoint(80_000);
    expect(bms.powerW).toBe(50_000);
    await waitFor(() => lastValue(battery, 'alarms')?.value === BMS_ALARM.setpointLimited, 'alarm');
    await waitFor(() => devices.at(-1)?.error === 'BMS alarm 0x0004', 'alarm on device status');
    expect(devices.at(-1)?.online).toBe(true);
  });

  it('refuses a set-point the server rejects, and one without a configured node', async () => {
    const clock = new VirtualClock();
    const { bms } = await bmsServer(clock);
    const { adapter } = adapterFor(clock, bmsDeviceConfig(bms.endpointUrl));
    await adapter.start();
    await expect(adapter.writeSetpoint(50_000_000)).rejects.toThrow(/BadOutOfRange/);
    expect(bms.setpointW).toBe(0);
    await expect(adapter.write('ns=1;s=BMS.SoC', 10)).rejects.toThrow(/refused|NotWritable/);

    const noSetpoint = { ...bmsDeviceConfig(bms.endpointUrl, 'bms2'), setpoint: undefined };
    const other = adapterFor(clock, noSetpoint);
    await other.adapter.start();
    await expect(other.adapter.writeSetpoint(1000)).rejects.toThrow(/no set-point node/);
  });

  it('reconnects after the server restarts on the same port and values flow again', async () => {
    const clock = new VirtualClock();
    const { bms } = await bmsServer(clock, { initialSocPct: 40 });
    const { adapter, battery, devices } = adapterFor(clock, bmsDeviceConfig(bms.endpointUrl));
    await adapter.start();
    await waitFor(() => lastValue(battery, 'socPct')?.value === 40, 'first SoC');
    const port = bms.port;

    await bms.stop();
    await waitFor(() => devices.at(-1)?.online === false, 'offline after server stop');
    expect(devices.at(-1)?.error).toBe('connection lost');
    expect(lastValue(battery, 'socPct')?.quality).toBe('stale');
    expect(adapter.connected).toBe(false);
    await expect(adapter.writeSetpoint(1000)).rejects.toThrow(/not connected/);

    bms.socPct = 44;
    await bms.start();
    expect(bms.port).toBe(port);
    await waitFor(() => devices.at(-1)?.online === true, 'online after restart', 15_000);
    await waitFor(() => lastValue(battery, 'socPct')?.value === 44, 'SoC after restart');
    expect(lastValue(battery, 'socPct')?.quality).toBe('good');

    // The subscription lives again: a change on the new server arrives, and writes work.
    bms.sohPct = 88;
    bms.step();
    await waitFor(() => lastValue(battery, 'sohPct')?.value === 88, 'notification after restart');
    await adapter.writeSetpoint(5000);
    expect(bms.powerW).toBe(5000);
  });

  it('starts while the server is down and connects once it appears', async () => {
    const clock = new VirtualClock();
    const port = await freePort();
    const { adapter, battery, devices } = adapterFor(clock, bmsDeviceConfig(`opc.tcp://127.0.0.1:${port}`));
    await adapter.start();
    expect(adapter.connected).toBe(false);
    expect(devices.at(-1)).toMatchObject({ online: false, error: expect.stringContaining('cannot connect') });
    await bmsServer(clock, { port, initialSocPct: 77 });
    await waitFor(() => lastValue(battery, 'socPct')?.value === 77, 'SoC once the server is up', 15_000);
    expect(adapter.connected).toBe(true);
  });

  it('stops promptly while it is still trying to reach a missing server', async () => {
    const clock = new VirtualClock();
    const port = await freePort();
    const { adapter, devices } = adapterFor(clock, bmsDeviceConfig(`opc.tcp://127.0.0.1:${port}`));
    await adapter.start();
    const t0 = Date.now();
    await adapter.stop();
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(clock.pending()).toBe(0);
    // A server appearing afterwards is not contacted any more.
    const { bms } = await bmsServer(clock, { port });
    await new Promise((r) => setTimeout(r, 1000));
    expect(adapter.connected).toBe(false);
    expect(devices.filter((d) => d.online)).toHaveLength(0);
    expect(bms.running).toBe(true);
  });

  it('authenticates with user name and password', async () => {
    const clock = new VirtualClock();
    const { bms } = await bmsServer(clock, { users: { gateway: 'pw-1' } });
    const base = bmsDeviceConfig(bms.endpointUrl);
    const bad = adapterFor(clock, { ...base, username: 'gateway', password: 'wrong' });
    await bad.adapter.start();
    expect(bad.adapter.connected).toBe(false);
    expect(bad.devices.at(-1)?.error).toMatch(/BadUserAccessDenied|BadIdentityTokenRejected/);
    await bad.adapter.stop();

    const anon = adapterFor(clock, base);
    await anon.adapter.start();
    expect(anon.adapter.connected).toBe(false);
    await anon.adapter.stop();

    const good = adapterFor(clock, { ...base, username: 'gateway', password: 'pw-1' });
    await good.adapter.start();
    expect(good.adapter.connected).toBe(true);
    expect(clock.pending()).toBeGreaterThan(0);
  });

  it('connects with SignAndEncrypt / Basic256Sha256', async () => {
    const clock = new VirtualClock();
    const { bms } = await bmsServer(clock, { initialSocPct: 33 });
    const { adapter, battery } = adapterFor(clock, {
      ...bmsDeviceConfig(bms.endpointUrl),
      securityMode: 'SignAndEncrypt',
      securityPolicy: 'Basic256Sha256',
    });
    await adapter.start();
    expect(adapter.connected).toBe(true);
    await waitFor(() => lastValue(battery, 'socPct')?.value === 33, 'SoC over an encrypted channel');
  });

  it('leaves no timers on the clock after stop', async () => {
    const clock = new VirtualClock();
    const { bms } = await bmsServer(clock);
    const { adapter } = adapterFor(clock, bmsDeviceConfig(bms.endpointUrl));
    await adapter.start();
    await adapter.stop();
    await bms.stop();
    expect(clock.pending()).toBe(0);
  });
});
