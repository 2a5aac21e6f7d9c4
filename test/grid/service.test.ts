import { afterEach, describe, expect, it } from 'vitest';
import { gridPolicies } from '../../src/cli/policies.js';
import { createGridService, type GridService, GridStatusSchema } from '../../src/grid/service.js';
import type { Setpoint } from '../../src/model/decision.js';
import { reading } from '../../src/model/reading.js';
import { evseSpec } from '../helpers/evse.js';
import { testConfig, testCore } from '../helpers/core.js';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

function setup() {
  let grid: GridService | undefined;
  const core = testCore(
    { grid: { fallback: { importLimitW: 11_000 }, marginW: 0, floorPerDeviceW: 4200 } },
    { policies: gridPolicies(testConfig({ grid: { fallback: { importLimitW: 11_000 } } }), () => grid) },
  );
  const vclock = core.vclock!;
  grid = createGridService(core.config, { clock: vclock, log: core.log, metrics: core.metrics, bus: core.bus });
  grid.store.onChange(() => core.loop.notifyChange());
  const written: Setpoint[] = [];
  core.dispatcher.registerSink('CP1', { applySetpoint: async (sp) => void written.push(sp) });
  core.dispatcher.registerSink('CP2', { applySetpoint: async (sp) => void written.push(sp) });
  core.start();
  grid.start();
  cleanup.push(() => {
    grid?.stop();
    core.stop();
  });
  for (const id of ['CP1', 'CP2']) {
    core.bus.emit('evse.spec', evseSpec(`${id}/1`, { protocol: 'sim' }));
    core.bus.emit('evse.live', {
      id: `${id}/1`,
      patch: { status: 'Charging', powerW: reading(6_900, vclock.now(), id) },
    });
  }
  core.bus.emit('grid', { powerW: reading(15_800, vclock.now(), 'meter') });
  return { core, grid: grid!, vclock, written };
}

describe('grid service: simple signals', () => {
  it('applies POST /api/v1/grid/limit bodies and cuts the chargers with the event named', async () => {
    const { core, grid, vclock } = setup();
    vclock.advance(100);
    expect(core.dispatcher.current('CP1/1')).toBeDefined();
    const r = grid.applySimpleSignal({
      importLimitW: 12_000,
      until: new Date(vclock.now() + 600_000).toISOString(),
      id: 'dso-7',
    });
    expect(r.ok).toBe(true);
    vclock.advance(100);
    // 12 kW - 2 kW building = 10 kW for two cars; the allocator shares it.
    const evses = core.loop.lastRound()?.limits.find((l) => l.scope === 'evses');
    expect(evses?.maxImportW).toBe(10_000);
    expect(evses?.reasons[0]?.text).toContain('dso-7');
    const sp = core.dispatcher.current('CP1/1')!;
    expect(sp.reasons.some((r) => r.tier === 'grid' && r.text.includes('dso-7'))).toBe(true);
    grid.attachStatus('openadr', () => ({ venId: 'ven-1' }));
    const st = grid.status();
    expect(st.adapters['openadr']).toEqual({ venId: 'ven-1' });
    expect(GridStatusSchema.safeParse(JSON.parse(JSON.stringify(st))).success).toBe(true);
    expect(st.active[0]).toMatchObject({
      kind: 'IMPORT_CAPACITY_LIMIT',
      value: 12_000,
      source: 'http',
      eventId: 'dso-7',
    });
  });

  it('rejects malformed bodies naming the field, counts them and keeps the previous state', async () => {
    const { core, grid, vclock } = setup();
    const ok = grid.applySimpleSignal({ importLimitW: 15_000, until: vclock.now() + 600_000 });
    expect(ok.ok).toBe(true);
    const bad = [
      { importLimitW: -1, until: vclock.now() + 1000 },
      { importLimitW: '5kW', until: vclock.now() + 1000 },
      { importLimitW: 5000 },
      { importLimitW: 5000, until: vclock.now() - 1 },
      { until: vclock.now() + 1000 },
      { importLimitW: 5000, until: vclock.now() + 1000, surprise: 1 },
    ];
    for (const b of bad) {
      const r = grid.applySimpleSignal(b);
      expect(r.ok, JSON.stringify(b)).toBe(false);
      if (!r.ok) expect(r.errors[0]?.path).toBeTruthy();
    }
    const r = grid.applySimpleSignal({ importLimitW: -1, until: vclock.now() + 1000 });
    expect(!r.ok && r.errors[0]?.path).toBe('importLimitW');
    expect(grid.store.input(vclock.now()).importLimits[0]?.value).toBe(15_000);
    const metrics = await core.metrics.metrics();
    expect(metrics).toMatch(/gridkeeper_grid_signals_rejected_total\{source="http",field="importLimitW"\} 4/);
  });

  it('accepts MQTT payloads and refuses non-JSON', () => {
    const { grid, vclock } = setup();
    expect(grid.mqttTopic).toBe('gridkeeper/test/grid/limit/set');
    const r = grid.handleMqttMessage(
      grid.mqttTopic,
      Buffer.from(JSON.stringify({ setpointW: -5000, until: vclock.now() + 60_000 })),
    );
    expect(r.ok).toBe(true);
    expect(grid.store.input(vclock.now()).setpoint?.value).toBe(-5000);
    expect(grid.handleMqttMessage(grid.mqttTopic, 'limit=5').ok).toBe(false);
    expect(grid.handleMqttMessage(grid.mqttTopic, '').ok).toBe(true);
    expect(grid.store.input(vclock.now()).setpoint).toBeUndefined();
  });

  it('holds the fallback when a simple signal expires, then reports compliance per event', () => {
    const { core, grid, vclock } = setup();
    grid.applySimpleSignal({ importLimitW: 30_000, until: vclock.now() + 10_000, id: 'short' });
    for (let i = 0; i < 12; i++) {
      vclock.advance(1000);
      core.bus.emit('grid', { powerW: reading(15_800, vclock.now(), 'meter') });
      for (const id of ['CP1', 'CP2']) {
        core.bus.emit('evse.live', { id: `${id}/1`, patch: { powerW: reading(6_900, vclock.now(), id) } });
      }
    }
    const st = grid.status();
    expect(st.active).toHaveLength(0);
    expect(st.fallback.active).toBe(true);
    const evses = core.loop.lastRound()?.limits.find((l) => l.scope === 'evses');
    // 11 kW fallback - 2 kW building = 9 kW.
    expect(evses?.maxImportW).toBe(9000);
    expect(evses?.reasons[0]?.text).toContain('fallback limit 11.0 kW');
    expect(core.dispatcher.current('CP1/1')?.reasons.some((r) => r.text.includes('fallback limit'))).toBe(true);
    const [ev] = grid.events();
    expect(ev).toMatchObject({ id: 'short', kind: 'IMPORT_CAPACITY_LIMIT', status: 'completed' });
    expect(ev?.detail?.['compliancePct']).toBe(100);
  });

  it('a limit the site cannot meet is never shown as met: grid view, grid.limit event', () => {
    const { core, grid, vclock } = setup();
    const events: unknown[] = [];
    core.bus.on('grid.limit', (e) => events.push(e));
    // 1 kW below a building load of 2 kW the gateway does not control: cannot be met, whatever the chargers do.
    grid.applySimpleSignal({ importLimitW: 1000, until: vclock.now() + 600_000, id: 'too-low' });
    for (let i = 0; i < 14; i++) {
      vclock.advance(1000);
      for (const id of ['CP1', 'CP2'])
        core.bus.emit('evse.live', { id: `${id}/1`, patch: { powerW: reading(0, vclock.now(), id) } });
      core.bus.emit('grid', { powerW: reading(2_000, vclock.now(), 'meter') });
    }
    const st = grid.status();
    expect(GridStatusSchema.parse(JSON.parse(JSON.stringify(st)))).toBeDefined();
    expect(st.limit).toMatchObject({ met: false, importLimitW: 1000, source: 'http', eventId: 'too-low' });
    expect(st.limit.why).toContain('not met');
    expect(events.at(-1)).toMatchObject({ met: false });
    const evses = core.loop.lastRound()?.limits.find((l) => l.scope === 'evses');
    expect(evses?.maxImportW).toBe(0);
    expect(evses?.reasons[0]?.text).toContain('cannot be met');
  });

  it('config defaults parse', () => {
    const cfg = testConfig();
    expect(cfg.grid.floorPerDeviceW).toBeUndefined();
    expect(cfg.grid.section14a.sources).toEqual([]);
    expect(cfg.grid.section14a.gzf['2']).toBe(0.8);
    expect(cfg.grid.openadr.enabled).toBe(false);
  });
});
