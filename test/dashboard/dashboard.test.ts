import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_ANY_PORTS, type Demo, startDemo } from '../../src/cli/demo.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../helpers/wait.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ADMIN_KEY = 'dashboard-test-admin-key-0123456789';
const ARTIFACTS = 'test-artifacts';

interface State {
  grid: { powerW: number | null };
  site: { limitW: number; override: { limitW: number } | null };
  evses: Array<{ id: string; status: string; setpointW: number | null; reason: string }>;
}

/**
 * The operator's dashboard in real Chromium against the simulated depot
 * (`gridkeeper demo`: createGateway with every simulator on its real
 * protocol, on free ports). What an operator does with it is checked from
 * the outside: the power flow moves, the history has axes and units, a site
 * limit set in the page reaches the API and the meter, pause and vehicle
 * needs go through, and a phone shows it without sideways scrolling.
 */
describe('dashboard in real Chromium on the demo depot', () => {
  let demo: Demo;
  let browser: Browser;
  let base: string;
  let dataDir: string;
  const get = async <T>(path: string): Promise<T> => (await (await fetch(`${base}${path}`)).json()) as T;

  beforeAll(async () => {
    // Fail loudly: this test needs the Debian chromium package (CI: apt-get install -y chromium).
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install -y chromium`);
    dataDir = mkdtempSync(join(tmpdir(), 'gk-dash-'));
    [demo, browser] = await Promise.all([
      startDemo(
        { ...DEMO_ANY_PORTS, dataDir, chargers: 4, opcua: false },
        { env: { GRIDKEEPER_ADMIN_KEY: ADMIN_KEY }, log: silentLogger() },
      ),
      chromium.launch({ executablePath: CHROMIUM, args: ARGS }),
    ]);
    base = demo.gateway.api()?.url() ?? '';
    // A day in the local store, as a gateway that ran since yesterday has it (the demo itself only just started).
    const now = Date.now();
    for (let t = now - 86_400_000; t < now - 60_000; t += 300_000) {
      const h = new Date(t).getUTCHours();
      demo.gateway.core.telemetry.append(t, {
        'grid.powerW': 12_000 + 6_000 * Math.sin(t / 7_200_000),
        'pv.powerW': h > 6 && h < 20 ? 9_000 * Math.sin((Math.PI * (h - 6)) / 14) : 0,
        'battery.powerW': -3_000 * Math.cos(t / 10_800_000),
        'evses.powerW': 20_000 + 8_000 * Math.sin(t / 5_400_000),
        'site.limitW': 60_000,
        'evses.limitW': 40_000,
      });
    }
    // A fleet vehicle whose card is the first demo arrival.
    const res = await fetch(`${base}/api/v1/vehicles/van-1`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Van 1', idTags: ['TAG0001'], batteryCapacityWh: 60_000 }),
    });
    expect(res.status).toBe(200);
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const text = (page: Page, sel: string) => page.textContent(sel).then((t) => t ?? '');

  it('shows the live depot, its history with axes, and the operator controls work end to end', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(base, { waitUntil: 'load' });
    await page.waitForFunction(`document.querySelector('#live-text')?.textContent === 'live'`, null, { timeout: 5000 });

    // Power flow: every source and load with kW, one branch per charger, values that move.
    await page.waitForSelector('#flow [data-node="evse:CP004/1"]', { timeout: 10_000 });
    for (const n of ['grid', 'pv', 'battery', 'building']) {
      expect(await text(page, `#flow [data-k="${n}"]`)).toMatch(/^\d+\.\d kW$/);
    }
    const flowValues = () => page.$$eval('#flow .n-value', (els) => els.map((e) => e.textContent).join('|'));
    const first = await flowValues();
    await page.waitForFunction(
      `[...document.querySelectorAll('#flow .n-value')].map((e) => e.textContent).join('|') !== ${JSON.stringify(first)}`,
      null,
      { timeout: 10_000 },
    );
    // A charging EVSE's branch animates (has a direction) and its card says why it gets what it gets.
    await page.waitForSelector('#flow .branch.in[data-node^="evse:"], #flow .branch.out[data-node^="evse:"]', {
      timeout: 10_000,
    });
    const reasons = await page.$$eval('.evse .reason', (els) => els.map((e) => e.textContent ?? ''));
    expect(reasons.length).toBeGreaterThanOrEqual(4);

    // History: five series over 24 h, a kW axis with numbers and a time axis with hours.
    await page.waitForSelector('#chart path.series[data-series="site.limitW"]', { state: 'attached' });
    expect(await page.$$eval('#chart path.series', (els) => els.length)).toBeGreaterThanOrEqual(4);
    expect(await text(page, '#chart .unit')).toBe('kW');
    const yTicks = await page.$$eval('#chart .tick.y', (els) => els.map((e) => e.textContent ?? ''));
    expect(yTicks.length).toBeGreaterThanOrEqual(3);
    for (const t of yTicks) expect(t).toMatch(/^-?\d+(\.\d)?$/);
    const xTicks = await page.$$eval('#chart .tick.x', (els) => els.map((e) => e.textContent ?? ''));
    expect(xTicks.length).toBeGreaterThanOrEqual(6);
    for (const t of xTicks) expect(t).toMatch(/^\d\d:\d\d$/);
    // One charger's own line, from what the store recorded since the demo started (a sample every 5 s).
    await waitFor(
      'a recorded sample of CP001/1',
      async () => (await get<string[]>('/api/v1/history/series')).includes('evse.CP001/1.powerW'),
      { timeoutMs: 10_000, intervalMs: 250 },
    );
    await page.selectOption('#chart-evse', 'CP001/1');
    await page.waitForSelector('#chart path.series[data-series="evse.CP001/1.powerW"]', {
      state: 'attached',
      timeout: 8000,
    });

    // Controls need a key with the control scope, kept for this tab only.
    await page.click('#sign-in');
    await page.fill('#key-input', ADMIN_KEY);
    await page.click('#key-form button[type=submit]');
    // The CMS sync panel: every OCPP charger's outbox, and with the key the webhook outbox too.
    await page.waitForFunction(
      `document.querySelector('#outbox')?.textContent?.includes('no webhook subscriptions')`,
      null,
      { timeout: 8000 },
    );
    expect(await page.$$eval('#outbox tr[data-charger]', (els) => els.length)).toBe(4);

    // Pause a charging EVSE from its card: the loop gives it 0 W with the operator's cap as the reason.
    const charging = await waitFor(
      'an EVSE charging with a set-point',
      async () => (await get<State>('/api/v1/state')).evses.find((e) => (e.setpointW ?? 0) > 0)?.id,
      { timeoutMs: 8000, intervalMs: 200 },
    );
    await page.click(`[data-evse="${charging}"] button[data-action=pause]`);
    const paused = await waitFor(
      `${charging} paused by the operator`,
      async () => {
        const e = (await get<State>('/api/v1/state')).evses.find((x) => x.id === charging);
        return e && e.setpointW === 0 && /operator/.test(e.reason) ? e : undefined;
      },
      { timeoutMs: 5000, intervalMs: 200 },
    );
    expect(paused.reason).toMatch(/operator cap 0 A/);
    expect(await get<Array<{ evseId: string; paused: boolean }>>('/api/v1/operator/caps')).toEqual([
      expect.objectContaining({ evseId: charging, paused: true }),
    ]);
    await page.click(`[data-evse="${charging}"] button[data-action=resume]`);
    await waitFor(
      `${charging} resumed`,
      async () => ((await get<unknown[]>('/api/v1/operator/caps')).length === 0 ? true : undefined),
      { timeoutMs: 3000, intervalMs: 100 },
    );

    // Control: a temporary site limit set in the page reaches the API, the control loop and the meter.
    await page.fill('#ov-kw', '20');
    await page.selectOption('#ov-min', '30');
    await page.fill('#ov-reason', 'transformer work');
    await page.click('#override-form button[type=submit]');
    await page.waitForFunction(
      `document.querySelector('#toast')?.textContent?.startsWith('Site limit 20.0 kW')`,
      null,
      {
        timeout: 5000,
      },
    );
    const o = await get<{ active: boolean; limitW: number; reason: string }>('/api/v1/site/limit-override');
    expect(o).toMatchObject({ active: true, limitW: 20_000, reason: 'transformer work' });
    const followed = await waitFor(
      'the site under the 20 kW override at the meter',
      async () => {
        const s = await get<State>('/api/v1/state');
        return s.site.override?.limitW === 20_000 && s.grid.powerW !== null && s.grid.powerW <= 20_000 ? s : undefined;
      },
      { timeoutMs: 12_000, intervalMs: 250 },
    );
    expect(followed.site.override?.limitW).toBe(20_000);
    await page.waitForFunction(
      `document.querySelector('#limit-text')?.textContent?.includes('of 20.0 kW limit in force (override)')`,
    );
    await page.waitForSelector('#timeline .tl-bar.override', { state: 'attached' });

    // A vehicle's departure and energy, set in its card, show up in the fleet plan.
    await page.click('[data-vehicle="van-1"] details.needs summary');
    const leave = new Date(Date.now() + 3 * 3_600_000);
    const local = new Date(leave.getTime() - leave.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await page.fill('[data-vehicle="van-1"] input[name=departure]', local);
    await page.fill('[data-vehicle="van-1"] input[name=kwh]', '30');
    await page.click('[data-vehicle="van-1"] form button[type=submit]');
    await page.waitForFunction(
      `document.querySelector('[data-vehicle="van-1"]')?.textContent?.includes('of 30.0 kWh')`,
      null,
      {
        timeout: 8000,
      },
    );
    const plan =
      await get<Array<{ vehicleId: string; energyNeededWh: number; departureAt: string }>>('/api/v1/fleet/plan');
    expect(plan.find((v) => v.vehicleId === 'van-1')).toMatchObject({ energyNeededWh: 30_000 });

    // The feed speaks sentences, not JSON.
    await page.waitForSelector('#events li');
    const feed = await page.$$eval('#events li', (els) => els.map((e) => e.textContent ?? ''));
    for (const line of feed) expect(line).not.toMatch(/[{}"]/);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}/dashboard.png`, fullPage: true });
    expect(statSync(`${ARTIFACTS}/dashboard.png`).size).toBeGreaterThan(20_000);

    // End the override from the page again.
    await page.click('#ov-clear');
    await waitFor(
      'the override ended',
      async () => ((await get<{ active: boolean }>('/api/v1/site/limit-override')).active ? undefined : true),
      { timeoutMs: 3000, intervalMs: 100 },
    );
    expect(errors).toEqual([]);
  }, 40_000);

  it('fits a phone: no sideways scrolling, every panel there', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await phone.goto(base, { waitUntil: 'load' });
    await phone.waitForSelector('#flow [data-node="evse:CP001/1"]', { timeout: 10_000 });
    await phone.waitForSelector('#chart path.series', { state: 'attached' });
    const overflow = await phone.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    const wide = await phone.evaluate<string[]>(
      `[...document.querySelectorAll('main > section')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5).map((e) => e.getAttribute('aria-label'))`,
    );
    expect(wide).toEqual([]);
    mkdirSync(ARTIFACTS, { recursive: true });
    await phone.screenshot({ path: `${ARTIFACTS}/dashboard-phone.png`, fullPage: true });
  }, 20_000);
});
