import { type Socket, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CmsPeer } from '../../../bench/peers/cms.js';
import { type RunningGateway, sleep, startGateway, waitFor } from './gateway-harness.js';
import { BOOT, connectCharger } from './plain-charger.js';

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c().catch(() => {});
});

async function gatewayWith(ocpp: Record<string, unknown>): Promise<RunningGateway> {
  const gw = await startGateway(ocpp);
  open.push(() => gw.stop());
  return gw;
}

async function cmsPeer(opts: { autoPong?: boolean } = {}): Promise<{ cms: CmsPeer; url: string }> {
  const cms = new CmsPeer(opts);
  const url = await cms.ready();
  open.push(() => cms.close());
  return { cms, url };
}

/** A raw TCP socket that sends half an upgrade request and then nothing: the attack's unit. */
function halfUpgrade(port: number): Promise<{ socket: Socket; openedAt: number; closedAt: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    const closedAt = new Promise<number>((r) => socket.once('close', () => r(Date.now())));
    socket.once('connect', () => {
      socket.write('GET /ocpp/CP0 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n');
      resolve({ socket, openedAt: Date.now(), closedAt });
    });
    socket.once('close', () => reject(new Error('closed before connect')));
  });
}

describe('OCPP proxy resource hygiene', () => {
  it('closes 1500 half-open upgrades within 10 s while a real charger connects during the attack', async () => {
    const { url: cmsUrl } = await cmsPeer();
    // Defaults: handshakeTimeoutMs 5000, maxPendingHandshakes 1000.
    const gw = await gatewayWith({ upstream: { url: cmsUrl } });
    const attack: Array<Awaited<ReturnType<typeof halfUpgrade>>> = [];
    for (let i = 0; i < 1500; i += 100) {
      attack.push(...(await Promise.all(Array.from({ length: 100 }, () => halfUpgrade(gw.port)))));
    }
    open.push(async () => {
      for (const a of attack) a.socket.destroy();
    });
    // Mid-attack: a charger still gets in and its boot reaches the CMS.
    const charger = await connectCharger(gw.url, 'CP1');
    open.push(() => charger.close());
    const boot = await charger.call('BootNotification', BOOT);
    expect(boot.status).toBe('Accepted');

    const closes = await Promise.all(attack.map((a) => a.closedAt.then((t) => t - a.openedAt)));
    expect(Math.max(...closes)).toBeLessThan(10_000);
    // The cap went first: at least the 500 beyond it did not wait for their deadline.
    expect(closes.filter((ms) => ms < 4000).length).toBeGreaterThanOrEqual(500);
    // The charger that finished its handshake is not a pending socket: still connected.
    expect(charger.ws.readyState).toBe(charger.ws.OPEN);
    expect(gw.proxy.connected()).toEqual(['CP1']);
  }, 30_000);

  it('a socket that never finishes its upgrade is closed after handshakeTimeoutMs', async () => {
    const gw = await gatewayWith({ handshakeTimeoutMs: 300 });
    const silent = await halfUpgrade(gw.port);
    const ms = (await silent.closedAt) - silent.openedAt;
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(2000);
  });

  it('drops a charger that stops answering pings and keeps one that answers', async () => {
    const gw = await gatewayWith({ pingIntervalMs: 150 });
    const dead = await connectCharger(gw.url, 'CP0', { autoPong: false });
    const alive = await connectCharger(gw.url, 'CP1');
    open.push(
      () => dead.close(),
      () => alive.close(),
    );
    const code = await Promise.race([dead.closed, sleep(3000).then(() => -1)]);
    expect(code).not.toBe(-1);
    expect(await waitFor(() => !gw.proxy.connected().includes('CP0'), 2000)).toBe(true);
    expect(alive.ws.readyState).toBe(alive.ws.OPEN);
    expect(gw.proxy.connected()).toEqual(['CP1']);
  });

  it('drops a CMS connection whose peer stops answering pings, and serves the charger locally', async () => {
    const { cms, url: cmsUrl } = await cmsPeer({ autoPong: false });
    const gw = await gatewayWith({ upstream: { url: cmsUrl, pingIntervalMs: 150, reconnectMinMs: 60_000 } });
    const charger = await connectCharger(gw.url, 'CP0');
    open.push(() => charger.close());
    expect(await waitFor(() => cms.connected('CP0') && gw.proxy.upstreamOnline('CP0'), 3000)).toBe(true);
    // Two ping intervals without a pong: the gateway gives the CMS link up.
    expect(await waitFor(() => !gw.proxy.upstreamOnline('CP0'), 3000)).toBe(true);
    expect(await waitFor(() => !cms.connected('CP0'), 3000)).toBe(true);
    const hb = await charger.call('Heartbeat', {});
    expect(typeof hb.currentTime).toBe('string');
    expect(charger.ws.readyState).toBe(charger.ws.OPEN);
  });
});

describe('cmsLinkLoss', () => {
  it('default serveLocally: the charger stays connected through a CMS outage and is answered locally', async () => {
    const { cms, url: cmsUrl } = await cmsPeer();
    const gw = await gatewayWith({ upstream: { url: cmsUrl, reconnectMinMs: 60_000 } });
    const charger = await connectCharger(gw.url, 'CP0');
    open.push(() => charger.close());
    expect(await waitFor(() => gw.proxy.upstreamOnline('CP0'), 3000)).toBe(true);
    await cms.close();
    expect(await waitFor(() => !gw.proxy.upstreamOnline('CP0'), 3000)).toBe(true);
    const boot = await charger.call('BootNotification', BOOT);
    expect(boot.status).toBe('Accepted');
    await sleep(200);
    expect(charger.ws.readyState).toBe(charger.ws.OPEN);
  });

  it('closeChargers (Part 4 Local Controller): the charger socket closes when its CMS link drops or cannot open', async () => {
    const { cms, url: cmsUrl } = await cmsPeer();
    const gw = await gatewayWith({ cmsLinkLoss: 'closeChargers', upstream: { url: cmsUrl, reconnectMinMs: 60_000 } });
    const charger = await connectCharger(gw.url, 'CP0');
    open.push(() => charger.close());
    expect(await waitFor(() => gw.proxy.upstreamOnline('CP0'), 3000)).toBe(true);
    await cms.close();
    const code = await Promise.race([charger.closed, sleep(3000).then(() => -1)]);
    expect(code).toBe(1001);
    // While the CMS stays away a reconnecting station is let in and closed again once its CMS link fails.
    const again = await connectCharger(gw.url, 'CP0');
    open.push(() => again.close());
    const code2 = await Promise.race([again.closed, sleep(3000).then(() => -1)]);
    expect(code2).toBe(1001);
  });
});
