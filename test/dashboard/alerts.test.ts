import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reading } from '../../src/model/reading.js';
import { ADMIN_KEY, type ApiFixture, apiFixture, evseSpec } from '../api/fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];

/**
 * A gateway without anonymous reads: the page asks for a key, keeps it for
 * the tab only, and with it the operator acknowledges an alert; the feed
 * tells what happened in words.
 */
describe('dashboard: key, alerts and the event feed in real Chromium', () => {
  let f: ApiFixture;
  let browser: Browser;
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install -y chromium`);
    f = await apiFixture({ anonymousRead: false });
    await f.api.start();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await f?.close();
  });

  it('asks for a key, then acknowledges a fault alert and tells the story in the feed', async () => {
    for (const id of ['CP01', 'CP02']) f.core.bus.emit('evse.spec', evseSpec(id));
    const now = f.core.clock.now();
    f.core.bus.emit('grid', { powerW: reading(9_000, now, 'meter') });
    f.core.loop.runRound('manual');

    const page = await browser.newPage({ viewport: { width: 1024, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(f.api.url());
    await page.waitForSelector('#key-form:not([hidden])');
    expect(await page.textContent('#live-text')).toBe('API key needed');
    await page.fill('#key-input', ADMIN_KEY);
    await page.click('#key-form button[type=submit]');
    await page.waitForFunction(`document.querySelector('#live-text')?.textContent === 'live'`, null, { timeout: 5000 });
    expect(await page.evaluate(`sessionStorage.getItem('gridkeeper.apiKey')`)).toBe(ADMIN_KEY);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    await page.waitForSelector('[data-evse="CP02/1"]');

    f.core.bus.emit('evse.live', { id: 'CP02/1', patch: { status: 'Faulted' } });
    const ack = '#alerts button[data-action=ack]';
    await page.waitForSelector(ack, { timeout: 5000 });
    expect(await page.textContent('#alerts')).toContain('EVSE CP02/1 reports a fault');
    await page.click(ack);
    await page.waitForFunction(
      `document.querySelector('#alerts')?.textContent?.includes('acknowledged by GRIDKEEPER_ADMIN_KEY')`,
      null,
      { timeout: 8000 },
    );
    const acks = (await (
      await fetch(`${f.api.url()}/api/v1/alerts/acks`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
    ).json()) as Array<{ alertId: string; by: string }>;
    const [faulted] = f.integration.alerts.list({ active: true });
    expect(faulted?.kind).toBe('charger.faulted');
    expect(acks).toEqual([expect.objectContaining({ alertId: faulted?.id, by: 'GRIDKEEPER_ADMIN_KEY' })]);

    const feed = await page.$$eval('#events li', (els) => els.map((e) => e.textContent ?? ''));
    expect(feed.some((l) => /CP02\/1 is now Faulted/.test(l))).toBe(true);
    expect(feed.some((l) => /Alert: EVSE CP02\/1 reports a fault/.test(l))).toBe(true);
    for (const l of feed) expect(l).not.toMatch(/[{}"]/);
    expect(errors).toEqual([]);
  }, 30_000);

  it('refuses to acknowledge an alert that is not active, and a read-only key', async () => {
    const res = await f.api.app.inject({
      method: 'POST',
      url: '/api/v1/alerts/nope/ack',
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
      payload: {},
    });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ detail: 'no active alert nope' });
    const anon = await f.api.app.inject({ method: 'POST', url: '/api/v1/alerts/nope/ack', payload: {} });
    expect(anon.statusCode).toBe(401);
  });
});
