import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { VirtualClock } from '../../../src/model/clock.js';
import { Backoff } from '../../../src/util/backoff.js';
import { CmsSim } from '../../../sim/cloud/cms.js';
import { SimCharger } from '../../../sim/devices/ocpp/charger.js';
import { type Stack, startStack, waitFor } from './helpers.js';

/** A self-signed certificate for 127.0.0.1 made with the openssl CLI (Debian package `openssl`). */
function selfSigned(dir: string, cn = '127.0.0.1'): { cert: string; key: string } {
  const keyPath = join(dir, `${cn}-key.pem`);
  const certPath = join(dir, `${cn}-cert.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ],
    { stdio: 'pipe' },
  );
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}

function connect(url: string, opts: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['ocpp1.6'], opts);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

const basic = (id: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${pw}`).toString('base64')}` });

describe('OCPP proxy security and robustness', () => {
  let stack: Stack | undefined;
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await stack?.close();
    stack = undefined;
  });

  it('security profile 1: Basic auth per charger; wrong or missing passwords are refused', async () => {
    stack = await startStack({
      chargers: [{ id: 'SP1', password: 'right-one' }],
      ocpp: { securityProfile: 1, unknownChargers: 'reject' },
    });
    const url = `${stack.proxy.url()}/SP1`;
    await expect(connect(url)).rejects.toThrow(/401/);
    await expect(connect(url, { headers: basic('SP1', 'wrong-one') })).rejects.toThrow(/401/);
    await expect(connect(url, { headers: basic('OTHER', 'right-one') })).rejects.toThrow(/401/);
    const ws = await connect(url, { headers: basic('SP1', 'right-one') });
    cleanups.push(() => ws.close());
    const refused = await stack.core.metrics.getSingleMetricAsString('gridkeeper_ocpp_refused_connections_total');
    expect(refused).toContain('reason="password"} 3');
  });

  it('security profile 2: TLS with Basic auth to the charger, and wss with Basic auth to the CMS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-ocpp-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const pem = selfSigned(dir);
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    const cms = new CmsSim({ clock, tls: pem, passwords: { TLS1: 'cms-secret' } });
    await cms.start();
    cleanups.push(() => cms.stop());
    stack = await startStack({
      clock,
      cms,
      chargers: [{ id: 'TLS1', password: 'cp-secret' }],
      ocpp: { securityProfile: 2, tls: { cert: pem.cert, key: pem.key } },
      upstream: { password: 'cms-secret', ca: pem.cert },
    });
    expect(stack.proxy.url()).toMatch(/^wss:\/\//);
    // Plain ws:// is not served.
    await expect(connect(`ws://127.0.0.1:${stack.proxy.port()}/ocpp/TLS1`)).rejects.toThrow();
    // An untrusted certificate is not accepted by a careful charger.
    await expect(connect(`${stack.proxy.url()}/TLS1`, { headers: basic('TLS1', 'cp-secret') })).rejects.toThrow();
    const cp = new SimCharger({
      id: 'TLS1',
      protocol: 'ocpp1.6',
      url: stack.proxy.url(),
      clock,
      password: 'cp-secret',
      ca: pem.cert,
    });
    cleanups.push(() => cp.stop());
    await cp.start();
    await waitFor(() => cp.booted && cms.received('BootNotification', 'TLS1').length === 1, { what: 'boot over TLS' });
    expect(stack.proxy.upstreamOnline('TLS1')).toBe(true);
  });

  it('security profile 3 upstream: the proxy presents a client certificate to the CMS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-ocpp-sp3-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const server = selfSigned(dir);
    const client = selfSigned(dir, 'gridkeeper-gateway');
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    const cms = new CmsSim({ clock, tls: { ...server, clientCa: client.cert } });
    await cms.start();
    cleanups.push(() => cms.stop());
    // Without a client certificate the CMS refuses the TLS handshake.
    stack = await startStack({ clock, cms, chargers: [{ id: 'SP3' }], upstream: { ca: server.cert } });
    const cp0 = new SimCharger({ id: 'SP3', protocol: 'ocpp1.6', url: stack.proxy.url(), clock });
    await cp0.start();
    await waitFor(() => cp0.booted, { what: 'boot answered locally' });
    expect(stack.proxy.upstreamOnline('SP3')).toBe(false);
    expect(cms.received()).toHaveLength(0);
    await cp0.stop();
    await stack.close();

    stack = await startStack({
      clock,
      cms,
      chargers: [{ id: 'SP3' }],
      upstream: { ca: server.cert, clientCert: client.cert, clientKey: client.key },
    });
    const cp = new SimCharger({ id: 'SP3', protocol: 'ocpp1.6', url: stack.proxy.url(), clock });
    cleanups.push(() => cp.stop());
    await cp.start();
    await waitFor(() => cp.booted && cms.received('BootNotification', 'SP3').length === 1, { what: 'boot via mTLS' });
    expect(cms.clientCertificates.get('SP3')).toBe('gridkeeper-gateway');
  });

  it('closes a connection that sends an oversized frame (1009) without disturbing others', async () => {
    stack = await startStack({ chargers: [{ id: 'BIG' }, { id: 'SMALL' }], ocpp: { maxFrameBytes: 4096 } });
    const small = await connect(`${stack.proxy.url()}/SMALL`);
    cleanups.push(() => small.close());
    const big = await connect(`${stack.proxy.url()}/BIG`);
    const closed = new Promise<number>((r) => big.once('close', (code) => r(code)));
    big.send(JSON.stringify([2, 'x', 'DataTransfer', { vendorId: 'v', data: 'x'.repeat(10_000) }]));
    expect(await closed).toBe(1009);
    const answers: string[] = [];
    small.on('message', (m) => answers.push(String(m)));
    small.send('[2,"ok","Heartbeat",{}]');
    await waitFor(() => answers.length === 1, { what: 'small still served' });
    expect(JSON.parse(answers[0] as string)[0]).toBe(3);
  });

  it('drops a charger that stops answering pings and reports it offline', async () => {
    stack = await startStack({ chargers: [{ id: 'MUTE' }], ocpp: { pingIntervalMs: 40 } });
    const offline: string[] = [];
    stack.core.bus.on('device', (d) => {
      if (!d.online) offline.push(d.id);
    });
    const ws = await connect(`${stack.proxy.url()}/MUTE`, { autoPong: false });
    const closed = new Promise<void>((r) => ws.once('close', () => r()));
    await closed;
    await waitFor(() => offline.includes('MUTE'), { what: 'offline event' });
  });

  it('reconnect delays grow exponentially with jitter from 1 s to 5 min', () => {
    // The upstream link's back-off, as it builds it from reconnectMinMs / reconnectMaxMs.
    const backoff = () => new Backoff({ initialMs: 1000, maxMs: 300_000, jitter: 0.5 });
    const delayAfter = (failures: number) => {
      const b = backoff();
      for (let i = 0; i < failures; i++) b.next();
      return b.next();
    };
    for (let i = 0; i < 50; i++) {
      const first = delayAfter(0);
      expect(first).toBeGreaterThanOrEqual(500);
      expect(first).toBeLessThanOrEqual(1000);
      const late = delayAfter(40);
      expect(late).toBeGreaterThanOrEqual(150_000);
      expect(late).toBeLessThanOrEqual(300_000);
    }
    const sixth = Array.from({ length: 200 }, () => delayAfter(5));
    expect(Math.min(...sixth)).toBeGreaterThanOrEqual(16_000);
    expect(new Set(sixth).size).toBeGreaterThan(50);
  });

  it('backs off on the injected clock while the CMS is down and reconnects when it is back', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 5, 8));
    stack = await startStack({
      clock,
      chargers: [{ id: 'BO1' }],
      upstream: { reconnectMinMs: 1000, reconnectMaxMs: 300_000 },
    });
    const cp = new SimCharger({ id: 'BO1', protocol: 'ocpp1.6', url: stack.proxy.url(), clock });
    cleanups.push(() => cp.stop());
    await cp.start();
    const s = stack;
    await waitFor(() => cp.booted && s.proxy.upstreamOnline('BO1'), { what: 'boot' });
    await s.cms.setOutage(true);
    await waitFor(() => !s.proxy.upstreamOnline('BO1'), { what: 'down' });
    const refusedBefore = s.cms.records.length;
    // Without the clock moving, nothing retries (no hidden wall-clock timers).
    await new Promise((r) => setTimeout(r, 100));
    expect(s.proxy.upstreamOnline('BO1')).toBe(false);
    await s.cms.setOutage(false);
    await new Promise((r) => setTimeout(r, 100));
    expect(s.proxy.upstreamOnline('BO1')).toBe(false);
    clock.advance(1000);
    await waitFor(() => s.proxy.upstreamOnline('BO1'), { what: 'reconnected after the first back-off' });
    expect(s.cms.records.length).toBeGreaterThanOrEqual(refusedBefore);
  });
});
