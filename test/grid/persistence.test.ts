import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GRID_MIGRATIONS } from '../../src/grid/persistence.js';
import { createGridService } from '../../src/grid/service.js';
import { VirtualClock } from '../../src/model/clock.js';
import { reading } from '../../src/model/reading.js';
import { testCore } from '../helpers/core.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const T0 = Date.UTC(2026, 0, 5, 17);

function open(path: string, clock: VirtualClock) {
  const core = testCore(
    {
      store: { path },
      grid: { responseGraceMs: 0, tariff: { components: [{ name: 'energy', dynamic: true, defaultPerKwh: 0.3 }] } },
    },
    { clock, migrations: GRID_MIGRATIONS },
  );
  const grid = createGridService(core.config, {
    clock,
    log: core.log,
    metrics: core.metrics,
    bus: core.bus,
    db: core.db,
  });
  core.start();
  grid.start();
  return {
    core,
    grid,
    close() {
      grid.stop();
      core.stop();
    },
  };
}

describe('grid persistence (SQLite file)', () => {
  it('keeps the event history with its compliance and the last good prices across a restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-grid-'));
    dirs.push(dir);
    const path = join(dir, 'gw.db');
    const clock = new VirtualClock(T0);
    const a = open(path, clock);
    try {
      expect(a.grid.applySimpleSignal({ importLimitW: 20_000, until: T0 + 60_000, id: 'dso-1' }).ok).toBe(true);
      expect(a.grid.prices.handleMqttMessage(JSON.stringify([{ start: T0, end: T0 + 3_600_000, price: 0.11 }]))).toBe(
        true,
      );
      for (let i = 1; i <= 20; i++) {
        clock.advance(1000);
        a.core.bus.emit('grid', { powerW: reading(i < 5 ? 25_000 : 15_000, clock.now(), 'meter') });
      }
    } finally {
      a.close();
    }
    const b = open(path, clock);
    try {
      const [ev] = b.grid.events();
      expect(ev).toMatchObject({ id: 'dso-1', kind: 'IMPORT_CAPACITY_LIMIT', value: 20_000 });
      expect(ev?.detail?.['observedSeconds']).toBe(19);
      expect(ev?.detail?.['compliantSeconds']).toBe(16);
      expect(b.grid.tariff.priceAt(T0 + 1000).importPerKwh).toBe(0.11);
    } finally {
      b.close();
    }
  });
});
