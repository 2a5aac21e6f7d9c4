import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as battery from '../../policies/battery.js';
import * as failsafe from '../../policies/failsafe.js';
import * as fleet from '../../policies/fleet-deadlines.js';
import * as loadManagement from '../../policies/load-management.js';
import * as peakShaving from '../../policies/peak-shaving.js';
import * as solar from '../../policies/solar.js';
import type { Decision } from '../../src/model/decision.js';
import { reading } from '../../src/model/reading.js';
import type { EvseState, SiteSnapshot } from '../../src/model/site.js';

/**
 * Every `fixtures/<policy>/<case>.json` is one recorded situation: a compact
 * snapshot (numbers become fresh readings at `now` unless given as
 * `{value, ageMs}`), the policy config, and the expected limits / requests
 * (partial match, same count). A bug report becomes a fixture first.
 */
// biome-ignore lint/suspicious/noExplicitAny: fixture configs are plain JSON checked by the policies' own types
const POLICIES: Record<string, (s: SiteSnapshot, c: any, now: number) => Decision> = {
  'load-management': loadManagement.decide,
  failsafe: (s, c) => failsafe.decide(s, c),
  solar: solar.decide,
  battery: battery.decide,
  'peak-shaving': peakShaving.decide,
  'fleet-deadlines': fleet.decide,
};

type Raw = number | readonly number[] | { value: unknown; ageMs?: number; quality?: 'good' | 'stale' | 'bad' };

interface Fixture {
  description: string;
  now: string;
  config: unknown;
  snapshot: {
    grid?: Record<string, Raw>;
    pv?: Record<string, Raw>;
    battery?: Record<string, Raw>;
    evses?: Array<Record<string, unknown>>;
    stale?: string[];
  };
  expect: { limits?: unknown[]; requests?: unknown[] };
}

function toReading(raw: Raw, now: number) {
  if (typeof raw === 'object' && raw !== null && 'value' in raw)
    return reading(raw.value, now - (raw.ageMs ?? 0), 'fixture', raw.quality ?? 'good');
  return reading(raw, now, 'fixture');
}

function readings(obj: Record<string, Raw> | undefined, now: number) {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj ?? {})) out[k] = toReading(v, now);
  return out;
}

function snapshotOf(f: Fixture, now: number): SiteSnapshot {
  const evses = (f.snapshot.evses ?? []).map((e, i) => {
    const id = (e.id as string | undefined) ?? `CP${i + 1}/1`;
    const base: EvseState = {
      id,
      chargerId: id.split('/')[0] as string,
      connectorId: 1,
      protocol: 'sim',
      circuitId: 'site',
      phaseRotation: 'L1L2L3',
      phases: 3,
      minCurrentA: 6,
      maxCurrentA: 32,
      voltageV: 230,
      bidirectional: false,
      priority: 0,
      status: 'Charging',
    };
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(e)) {
      out[k] =
        k === 'powerW' || k === 'currentsA'
          ? toReading(v as Raw, now)
          : k === 'sessionStart'
            ? Date.parse(v as string)
            : v;
    }
    return out as unknown as EvseState;
  });
  return {
    ts: now,
    siteId: 'fixture',
    grid: readings(f.snapshot.grid, now),
    pv: readings(f.snapshot.pv, now),
    battery: readings(f.snapshot.battery, now),
    evses,
    devices: [],
    stale: f.snapshot.stale ?? [],
  };
}

const root = join(import.meta.dirname, 'fixtures');

describe('policy fixtures', () => {
  const dirs = readdirSync(root);
  it('has fixtures for every policy', () => {
    for (const name of Object.keys(POLICIES)) expect(dirs, name).toContain(name);
  });
  for (const dir of dirs) {
    describe(dir, () => {
      for (const file of readdirSync(join(root, dir)).filter((f) => f.endsWith('.json'))) {
        const f = JSON.parse(readFileSync(join(root, dir, file), 'utf8')) as Fixture;
        it(`${file}: ${f.description}`, () => {
          const decide = POLICIES[dir];
          expect(decide, `no policy for fixture dir ${dir}`).toBeDefined();
          const now = Date.parse(f.now);
          const d = decide!(snapshotOf(f, now), f.config, now);
          if (f.expect.limits) {
            expect(d.limits).toHaveLength(f.expect.limits.length);
            expect(d.limits).toMatchObject(f.expect.limits);
          }
          if (f.expect.requests) {
            expect(d.requests).toHaveLength(f.expect.requests.length);
            expect(d.requests).toMatchObject(f.expect.requests);
          }
        });
      }
    });
  }
});
