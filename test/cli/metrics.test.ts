import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_ANY_PORTS, type Demo, startDemo } from '../../src/cli/demo.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../helpers/wait.js';

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** A small parser of the Prometheus text format (the test's own, not prom-client's). */
function parse(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) types.set(t[1] as string, t[2] as string);
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

/**
 * Site metrics over a real scrape of the demo's gateway (built by
 * createGateway, fed by the simulated devices over their protocols).
 */
describe('site metrics on /metrics', () => {
  let demo: Demo;
  let url: string;
  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gk-metrics-'));
    demo = await startDemo(
      { ...DEMO_ANY_PORTS, dataDir, chargers: 4, opcua: false },
      { env: { GRIDKEEPER_ADMIN_KEY: 'metrics-test-key' }, log: silentLogger() },
    );
    url = `${demo.gateway.api()?.url()}/metrics`;
  }, 30_000);
  afterAll(async () => {
    await demo?.stop();
  });

  const scrape = async () => {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    return parse(await res.text());
  };
  const one = (samples: Sample[], name: string) => samples.filter((s) => s.name === name);

  it('exposes grid, PV, battery, chargers, limits, connections and rounds with one prefix and labels', async () => {
    const { samples, types } = await waitFor(
      'chargers drawing power in the scrape',
      async () => {
        const r = await scrape();
        const charging = one(r.samples, 'gridkeeper_evse_power_watts').filter((s) => s.value > 1000);
        const pv = one(r.samples, 'gridkeeper_pv_power_watts');
        // The proxy's thread reports its chargers' and CMS links' state every 500 ms.
        const links = ['gridkeeper_ocpp_charger_connected', 'gridkeeper_ocpp_cms_connected'].every((name) => {
          const up = one(r.samples, name);
          return up.length === 4 && up.every((x) => x.value === 1);
        });
        return charging.length >= 2 && pv.length === 1 && links ? r : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    const site = demo.config.site.id;
    // One prefix: no doubled process prefix, every series is ours.
    expect(samples.some((s) => s.name.startsWith('gridkeeper_process_process_'))).toBe(false);
    expect(one(samples, 'gridkeeper_process_cpu_seconds_total')).toHaveLength(1);
    expect(samples.every((s) => s.name.startsWith('gridkeeper_'))).toBe(true);

    const [grid] = one(samples, 'gridkeeper_grid_power_watts');
    expect(grid?.labels).toEqual({ site });
    // Plausible: within the physics of a 100 A x 3 x 230 V connection.
    expect(Math.abs(grid?.value ?? Number.NaN)).toBeLessThan(70_000);
    const [pv] = one(samples, 'gridkeeper_pv_power_watts');
    expect(pv?.value).toBeGreaterThanOrEqual(0);
    expect(pv?.value).toBeLessThanOrEqual(15_000);
    const soc = one(samples, 'gridkeeper_battery_soc_percent');
    expect(soc).toHaveLength(1);
    expect(soc[0]?.value).toBeGreaterThan(0);
    expect(soc[0]?.value).toBeLessThanOrEqual(100);
    expect(one(samples, 'gridkeeper_battery_power_watts')).toHaveLength(1);

    const power = one(samples, 'gridkeeper_evse_power_watts');
    for (const s of power) {
      expect(s.labels.site).toBe(site);
      expect(s.labels.evse?.startsWith(`${s.labels.charger}/`)).toBe(true);
      expect(Math.abs(s.value)).toBeLessThan(32 * 3 * 230 + 500);
      expect(Number.isInteger(s.value)).toBe(true);
    }
    const ids = new Set(power.map((s) => s.labels.evse));
    expect(ids.has('CP001/1')).toBe(true);
    const currents = one(samples, 'gridkeeper_evse_current_amperes').filter((s) => s.labels.evse === 'CP001/1');
    expect(currents.map((s) => s.labels.phase).sort()).toEqual(['L1', 'L2', 'L3']);
    const setpoints = one(samples, 'gridkeeper_evse_setpoint_amperes');
    expect(setpoints.length).toBeGreaterThanOrEqual(4);
    for (const s of setpoints) {
      expect(s.value).toBeGreaterThanOrEqual(0);
      expect(s.value).toBeLessThanOrEqual(32);
      expect(s.labels.source).not.toBe('');
    }
    expect(one(samples, 'gridkeeper_evse_setpoint_watts').length).toBe(setpoints.length);
    expect(
      one(samples, 'gridkeeper_evse_status').filter((s) => s.labels.status === 'Charging').length,
    ).toBeGreaterThanOrEqual(2);

    // The import limits of this round (the charging budget `evses`, `site`, circuit nodes), each with the
    // policy that binds it.
    const limits = one(samples, 'gridkeeper_limit_watts').filter((s) => s.labels.direction === 'import');
    expect(limits.length).toBeGreaterThanOrEqual(1);
    expect(limits.map((s) => s.labels.scope)).toContain('evses');
    for (const l of limits) {
      expect(l.value).toBeGreaterThan(0);
      // The chargers' budget may exceed the grid contract by what PV and the battery supply on site;
      // a site-scope limit never may.
      if (l.labels.scope === 'site') expect(l.value).toBeLessThanOrEqual(demo.config.site.limitW);
      else expect(l.value).toBeLessThan(demo.config.site.limitW * 3);
      expect(l.labels.source).toMatch(/^[a-z-]+$/);
      expect(l.labels.tier).toMatch(/^(safety|cms|grid|contract|fleet|optimisation)$/);
    }

    // Connection state of each OCPP charger and its CMS link, and of the field devices.
    for (const name of ['gridkeeper_ocpp_charger_connected', 'gridkeeper_ocpp_cms_connected']) {
      const up = one(samples, name);
      expect(up.map((s) => s.labels.charger).sort()).toEqual(['CP001', 'CP002', 'CP003', 'CP004']);
      expect(up.every((s) => s.value === 1)).toBe(true);
    }
    const devices = one(samples, 'gridkeeper_device_up');
    expect(devices.some((d) => d.labels.kind === 'meter' && d.value === 1)).toBe(true);

    // Outbox depth and control-round duration.
    expect(one(samples, 'gridkeeper_ocpp_outbox_messages').map((s) => s.labels.status)).toContain('pending');
    expect(types.get('gridkeeper_control_round_seconds')).toBe('histogram');
    const rounds = one(samples, 'gridkeeper_control_round_seconds_count')[0]?.value ?? 0;
    expect(rounds).toBeGreaterThan(0);
    const sum = one(samples, 'gridkeeper_control_round_seconds_sum')[0]?.value ?? Number.NaN;
    expect(sum / rounds).toBeLessThan(0.1);
  }, 40_000);

  it('a grid limit shows by its source, and the limits it shapes name the grid tier', async () => {
    const api = demo.gateway.api()?.url();
    const res = await fetch(`${api}/api/v1/grid/limit`, {
      method: 'POST',
      headers: { authorization: 'Bearer metrics-test-key', 'content-type': 'application/json' },
      body: JSON.stringify({ importLimitW: 25_000, until: new Date(Date.now() + 600_000).toISOString() }),
    });
    expect(res.status).toBe(200);
    const { samples } = await waitFor(
      'the grid tier binding the signal at the site',
      async () => {
        const r = await scrape();
        // The demo's own OpenADR event may bind the grid tier already (limits apply 30 s before they
        // start): wait for a round that has this signal.
        const bound = one(r.samples, 'gridkeeper_limit_watts').some(
          (s) => s.labels.tier === 'grid' && s.labels.scope === 'site' && s.value === 25_000,
        );
        return bound ? r : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    const signals = one(samples, 'gridkeeper_grid_signal_watts').filter((s) => s.labels.kind === 'importLimit');
    expect(signals.find((s) => s.labels.source === 'http')?.value).toBe(25_000);
    const grid = one(samples, 'gridkeeper_limit_watts').filter((s) => s.labels.tier === 'grid');
    expect(grid.map((l) => l.labels.source)).toEqual(grid.map(() => 'grid-signals'));
    // The site scope carries the signal itself; budgets below it (chargers, battery) may be 0 when the
    // signal leaves nothing for them.
    expect(grid.find((l) => l.labels.scope === 'site')?.value).toBe(25_000);
    expect(grid.every((l) => l.value >= 0)).toBe(true);
  }, 30_000);

  it('the Grafana dashboard references only metrics the gateway exposes', async () => {
    const { types } = await scrape();
    const dashboard = JSON.parse(readFileSync('docs/grafana/gridkeeper.json', 'utf8')) as {
      panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
      templating: { list: Array<{ query?: unknown }> };
    };
    const exprs = [
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
      ...dashboard.templating.list.map((v) => v.query).filter((q): q is string => typeof q === 'string'),
    ];
    expect(exprs.length).toBeGreaterThan(10);
    const used = new Set(exprs.flatMap((e) => [...e.matchAll(/gridkeeper_\w+/g)].map((m) => m[0])));
    // A histogram's series are exposed as <name>_bucket/_sum/_count under one TYPE line.
    const known = (name: string) =>
      types.has(name) || types.get(name.replace(/_(bucket|sum|count)$/, '')) === 'histogram';
    const missing = [...used].filter((n) => !known(n));
    expect(missing).toEqual([]);
    expect(used.size).toBeGreaterThan(12);
  });
});
