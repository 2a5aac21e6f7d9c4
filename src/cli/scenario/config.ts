import { stringify } from 'yaml';
import type { ScenarioDay } from '../../../sim/scenario/types.js';

export interface SiteConfigOptions {
  readonly meterPort: number;
  readonly gridUnit: number;
  readonly pvUnit?: number;
  readonly storePath: string;
  readonly apiKeyEnv: string;
  /** Extra config sections (e.g. `grid.openadr` for dr-day), merged over the site's own. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function merge(a: Record<string, unknown>, b: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isObject(prev) && isObject(v) ? merge(prev, v) : v;
  }
  return out;
}

/**
 * The site's gridkeeper config file, written the way an installer writes
 * one: an Eastron grid meter on a Modbus TCP gateway, OCPP chargers that
 * connect to the proxy, the store in a data directory, the API with a key
 * from the environment (for the fleet tool). Ports are 0: the OS picks.
 */
export function siteConfigYaml(day: ScenarioDay, o: SiteConfigOptions): string {
  const site = day.site;
  const devices: Array<Record<string, unknown>> = [
    {
      id: 'grid-meter',
      role: 'grid',
      host: '127.0.0.1',
      port: o.meterPort,
      unitId: o.gridUnit,
      profile: 'eastron-sdm630',
    },
  ];
  if (o.pvUnit !== undefined) {
    devices.push({
      id: 'pv-meter',
      role: 'pv',
      host: '127.0.0.1',
      port: o.meterPort,
      unitId: o.pvUnit,
      profile: 'eastron-sdm630',
    });
  }
  const config: Record<string, unknown> = {
    site: {
      id: site.id,
      limitW: site.limitW,
      fuseA: site.fuseA,
      voltageV: site.voltageV,
      // The gateway's own choice of a safe budget while the meter is silent.
      failsafeLimitW: Math.round(site.limitW / 3),
      circuits: site.circuits.map((c) => ({ id: c.id, parent: c.parent, maxCurrentA: c.maxCurrentA })),
    },
    chargers: site.chargers.map((c) => ({
      id: c.id,
      protocol: 'ocpp',
      circuit: c.circuit,
      phases: c.phases,
      phaseRotation: c.phaseRotation,
      minCurrentA: c.minCurrentA,
      maxCurrentA: c.maxCurrentA,
    })),
    modbus: { devices },
    ocpp: { host: '127.0.0.1', port: 0 },
    api: {
      host: '127.0.0.1',
      port: 0,
      dashboard: false,
      keys: [{ name: 'fleet-tool', key: `\${${o.apiKeyEnv}}`, scopes: ['control'] }],
    },
    store: { path: o.storePath },
    log: { level: 'warn' },
  };
  const withSettings = day.gatewaySettings ? merge(config, day.gatewaySettings) : config;
  return stringify(o.extra ? merge(withSettings, o.extra) : withSettings);
}
