import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/model/decision.js';
import { reading } from '../../src/model/reading.js';
import type { EvseState, SiteSnapshot } from '../../src/model/site.js';
import { evseSpec } from '../helpers/evse.js';

/*
 * Every `test/policies/<policy>/<case>.json` is one recorded situation: a compact
 * snapshot (numbers become fresh readings at `now` unless given as
 * `{value, ageMs}`), the policy config, and the expected limits / requests
 * (partial match, same count). A bug report becomes a fixture first.
 */

type Raw = number | readonly number[] | { value: unknown; ageMs?: number; quality?: 'good' | 'stale' | 'bad' };

export interface Fixture {
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
    const base: EvseState = { ...evseSpec(id, { protocol: 'sim' }), status: 'Charging' };

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

// biome-ignore lint/suspicious/noExplicitAny: fixture configs are plain JSON checked by the policies' own types
type Decide = (s: SiteSnapshot, c: any, now: number) => Decision;

/** One test per JSON fixture in `dir` (the policy's test folder), run against `decide`. */
export function policyFixtures(policy: string, decide: Decide, dir: string): void {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  describe(`${policy} fixtures`, () => {
    it('has fixtures', () => expect(files.length).toBeGreaterThan(0));
    for (const file of files) {
      const f = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Fixture;
      it(`${file}: ${f.description}`, () => {
        const now = Date.parse(f.now);
        const d = decide(snapshotOf(f, now), f.config, now);
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
