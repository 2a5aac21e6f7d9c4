import { existsSync, mkdirSync, statSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/model/clock.js';
import { reading } from '../../src/model/reading.js';
import { type ApiFixture, apiFixture, evseSpec } from '../api/fixture.js';

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

describe('dashboard in real Chromium', () => {
  let f: ApiFixture;
  let clock: VirtualClock;
  beforeAll(async () => {
    // Fail loudly: this test needs the Debian chromium package.
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install -y chromium`);
    clock = new VirtualClock(Date.now());
    f = await apiFixture({ anonymousRead: true, clock });
    await f.api.start();
  });
  afterAll(async () => {
    await f?.close();
  });

  function site(gridW: number, evW: number) {
    const now = clock.now();
    f.core.bus.emit('grid', { powerW: reading(gridW, now, 'meter') });
    f.core.bus.emit('pv', { powerW: reading(5_000, now, 'pv') });
    f.core.bus.emit('battery', { powerW: reading(-2_000, now, 'bms'), socPct: reading(64, now, 'bms') });
    for (const id of ['CP01', 'CP02', 'CP03']) {
      f.core.bus.emit('evse.live', {
        id: `${id}/1`,
        patch: {
          status: 'Charging',
          powerW: reading(evW, now, id),
          sessionId: `s-${id}`,
          idTag: `TAG-${id}`,
          sessionEnergyWh: 1234,
        },
      });
    }
    f.core.loop.runRound('manual');
  }

  it('loads, shows the depot with a reason beside every charger, updates live, and fits a phone', async () => {
    for (const id of ['CP01', 'CP02', 'CP03']) f.core.bus.emit('evse.spec', evseSpec(id));
    for (let i = 60; i > 0; i--) {
      f.core.telemetry.append(clock.now() - i * 60_000, {
        'grid.powerW': 10_000 + i * 50,
        'pv.powerW': 4_000,
        'evses.powerW': 12_000,
      });
    }
    site(12_000, 7_000);

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(f.api.url(), { waitUntil: 'load' });
      await page.waitForSelector('[data-evse="CP03/1"]');
      await page.waitForFunction(`document.querySelector('#live-text')?.textContent === 'live'`);
      expect(await page.textContent('[data-k=grid]')).toBe('12.0 kW');
      expect(await page.textContent('[data-k=evses]')).toBe('21.0 kW');
      const reasons = await page.$$eval('.evse .reason', (els) => els.map((e) => e.textContent ?? ''));
      expect(reasons).toHaveLength(3);
      for (const r of reasons) expect(r).toMatch(/^why: \w+\/[\w-]+: .+/);
      expect(await page.$$eval('#chart polyline', (els) => els.length)).toBeGreaterThanOrEqual(2);

      // Live: a new reading and an event change what the page shows without a reload.
      clock.advance(1000);
      site(15_500, 4_000);
      f.core.bus.emit('evse.live', { id: 'CP02/1', patch: { status: 'Faulted' } });
      await page.waitForFunction(`document.querySelector('[data-k=grid]')?.textContent === '15.5 kW'`, null, {
        timeout: 5000,
      });
      await page.waitForSelector('#events li');
      await page.waitForFunction(`document.querySelector('#alerts')?.textContent?.includes('CP02/1')`, null, {
        timeout: 5000,
      });
      expect(await page.textContent('[data-evse="CP02/1"] .badge')).toBe('Faulted');

      mkdirSync('test-artifacts', { recursive: true });
      await page.screenshot({ path: 'test-artifacts/dashboard.png', fullPage: true });
      expect(statSync('test-artifacts/dashboard.png').size).toBeGreaterThan(10_000);

      const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
      await phone.goto(f.api.url(), { waitUntil: 'load' });
      await phone.waitForSelector('[data-evse="CP01/1"]');
      const overflow = await phone.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      expect(overflow).toBeLessThanOrEqual(0);
      await phone.screenshot({ path: 'test-artifacts/dashboard-phone.png', fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('asks for a key when anonymous reads are off, then works with it', async () => {
    const g = await apiFixture({ anonymousRead: false });
    await g.api.start();
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const page = await browser.newPage();
      await page.goto(g.api.url());
      await page.waitForSelector('#key-form:not([hidden])');
      const { ADMIN_KEY } = await import('../api/fixture.js');
      await page.fill('#key-input', ADMIN_KEY);
      await page.click('#key-form button');
      await page.waitForFunction(`document.querySelector('#live-text')?.textContent === 'live'`, null, {
        timeout: 5000,
      });
    } finally {
      await browser.close();
      await g.close();
    }
  }, 60_000);
});
