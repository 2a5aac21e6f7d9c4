import { describe, expect, it } from 'vitest';
import { decide } from '../../../policies/site-override.js';
import { reading } from '../../../src/model/reading.js';
import type { SiteSnapshot } from '../../../src/model/site.js';
import { evseSpec } from '../../helpers/evse.js';

const NOW = Date.UTC(2026, 10, 25, 12);

function snapshot(gridW: number, evseW: number): SiteSnapshot {
  return {
    ts: NOW,
    siteId: 's',
    grid: { powerW: reading(gridW, NOW, 'meter') },
    pv: {},
    battery: {},
    evses: [
      {
        ...evseSpec('CP1/1'),
        status: 'Charging',
        powerW: reading(evseW, NOW, 'CP1'),
      },
    ],
    devices: [],
    stale: [],
  };
}

describe('site-override policy', () => {
  it('does nothing without an active override', () => {
    expect(decide(snapshot(20_000, 10_000), { marginW: 0, staleAfterMs: 10_000 }, NOW).limits).toEqual([]);
    const expired = { limitW: 5_000, until: NOW, reason: 'x', setBy: 'op' };
    expect(
      decide(snapshot(20_000, 10_000), { override: expired, marginW: 0, staleAfterMs: 10_000 }, NOW).limits,
    ).toEqual([]);
  });

  it('caps the charging budget to the override net of the other load, and says who set it', () => {
    const override = { limitW: 15_000, until: NOW + 3_600_000, reason: 'transformer work', setBy: 'ops-key' };
    const d = decide(snapshot(20_000, 10_000), { override, marginW: 1_000, staleAfterMs: 10_000 }, NOW);
    // 15 kW - 1 kW margin - (20 kW - 10 kW other load) = 4 kW for the EVSEs.
    expect(d.limits).toHaveLength(1);
    expect(d.limits[0]).toMatchObject({ scope: 'evses', maxImportW: 4_000 });
    expect(d.limits[0]?.reason).toMatchObject({ policy: 'site-override', tier: 'contract' });
    expect(d.limits[0]?.reason.text).toContain('ops-key');
    expect(d.limits[0]?.reason.text).toContain('transformer work');
  });
});
