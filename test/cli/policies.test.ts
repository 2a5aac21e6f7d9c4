import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corePolicies, gatewayPolicies } from '../../src/cli/policies.js';
import { testConfig } from '../helpers/core.js';

// The registry binds every policy of policies/ in one place; the operator-commands policy runs as `operator`.
const NAME_OF_FILE: Readonly<Record<string, string>> = { 'operator-commands': 'operator' };
// Modules of policies/ that are parts of a policy, not policies themselves.
const PARTS = new Set(['fleet-plan', 'vehicle-max']);

const everything = testConfig({
  control: {
    policies: {
      peakShaving: { enabled: true },
      solar: { enabled: true },
      battery: { enabled: true, id: 'bat' },
    },
  },
  grid: { tariff: { components: [{ name: 'energy', dynamic: true, defaultPerKwh: 0.3 }] } },
});

const all = () => [
  ...corePolicies(everything),
  ...gatewayPolicies(
    everything,
    { operator: () => ({ caps: [], battery: [] }), siteOverride: () => undefined },
    () => undefined,
    { plannedVehicles: () => [] },
  ),
];

describe('policy registry (src/cli/policies.ts)', () => {
  it('binds every policy of policies/ when the config enables it', () => {
    const files = readdirSync(join(import.meta.dirname, '../../policies'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.slice(0, -3))
      .filter((f) => !PARTS.has(f));
    const bound = new Set(all().map((p) => p.name));
    expect(files.filter((f) => !bound.has(NAME_OF_FILE[f] ?? f))).toEqual([]);
  });

  it('binds each policy to its tier, once', () => {
    const tiers = Object.fromEntries(all().map((p) => [p.name, p.tier]));
    expect(tiers).toEqual({
      failsafe: 'safety',
      'load-management': 'contract',
      'peak-shaving': 'contract',
      'fleet-deadlines': 'fleet',
      solar: 'optimisation',
      battery: 'optimisation',
      operator: 'contract',
      'site-override': 'contract',
      'grid-signals': 'grid',
      'vpp-dispatch': 'grid',
      'tariff-planning': 'optimisation',
    });
    expect(all()).toHaveLength(Object.keys(tiers).length);
  });

  it('leaves out what the config disables and what has no input wired', () => {
    const names = gatewayPolicies(testConfig({ grid: { vpp: { enabled: false } } }), {}, () => undefined).map(
      (p) => p.name,
    );
    expect(names).toEqual(['fleet-deadlines', 'grid-signals']);
  });
});
