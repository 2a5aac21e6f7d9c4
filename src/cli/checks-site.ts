import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { type ConfigError, formatPath } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';

/**
 * Warnings about a valid site file that would still surprise an operator:
 * the gateway runs with it, check-config and `run` say so.
 */
export function siteConfigWarnings(config: GatewayConfig): ConfigError[] {
  const out: ConfigError[] = [];
  const meters = [
    ...config.modbus.devices.filter((d) => d.role === 'grid'),
    ...(config.mqtt.enabled ? config.mqtt.devices.filter((d) => d.role === 'grid') : []),
  ];
  if (meters.length === 0) {
    out.push({
      path: 'modbus.devices',
      message: `no grid meter: without one the site never leaves its failsafe budget (site.failsafeLimitW = ${config.site.failsafeLimitW} W for all chargers together) and load management cannot see other loads; add a meter with role: grid (modbus.devices, or an mqtt device)`,
    });
  }
  return out;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] as number;
}

/** `unknown circuit "feeder1": did you mean "feeder-1"? (known: site, feeder-1, feeder-2)` */
export function unknownIdMessage(kind: string, id: string, known: readonly string[]): string {
  const ranked = known.map((k) => ({ k, d: distance(id.toLowerCase(), k.toLowerCase()) })).sort((x, y) => x.d - y.d);
  const best = ranked[0];
  const hint = best && best.d <= Math.max(2, Math.floor(id.length / 3)) ? `: did you mean "${best.k}"?` : '';
  const list = known.length ? ` (known: ${known.join(', ')})` : ` (none configured)`;
  return `unknown ${kind} "${id}"${hint}${list}`;
}

type Node = Record<string, unknown>;
const obj = (v: unknown): Node => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Node) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * References to ids (circuits, chargers, batteries) checked on the file as
 * written, so they are reported with a suggestion even while other errors
 * keep the schema from passing. Returns nothing for a file that cannot be
 * parsed (the loader reports that).
 */
export function unknownIdErrors(file: string): ConfigError[] {
  let raw: Node;
  try {
    raw = obj(parseDocument(readFileSync(file, 'utf8')).toJS());
  } catch {
    return [];
  }
  return unknownIdsIn(raw);
}

export function unknownIdsIn(raw: Node): ConfigError[] {
  const out: ConfigError[] = [];
  const site = obj(raw.site);
  const circuits = arr(site.circuits).map(obj);
  const circuitIds = ['site', ...circuits.map((c) => str(c.id)).filter((x): x is string => !!x)];
  const check = (path: PropertyKey[], kind: string, id: string | undefined, known: readonly string[]) => {
    if (id !== undefined && !known.includes(id))
      out.push({ path: formatPath(path), message: unknownIdMessage(kind, id, known) });
  };
  for (const [i, c] of circuits.entries())
    check(['site', 'circuits', i, 'parent'], 'circuit', str(c.parent), circuitIds);
  const chargers = arr(raw.chargers).map(obj);
  for (const [i, c] of chargers.entries()) check(['chargers', i, 'circuit'], 'circuit', str(c.circuit), circuitIds);

  const chargerIds = chargers.map((c) => str(c.id)).filter((x): x is string => !!x);
  const policies = obj(obj(raw.control).policies);
  for (const [i, id] of arr(obj(policies.allocator).phaseSwitching).entries()) {
    check(['control', 'policies', 'allocator', 'phaseSwitching', i], 'charger', str(id), chargerIds);
  }

  // The battery policy and the VPP name a battery device: an OPC UA BMS or a Modbus battery.
  const batteryIds = [
    ...arr(obj(raw.opcua).devices).map((d) => str(obj(d).id)),
    ...arr(obj(raw.modbus).devices)
      .map(obj)
      .filter((d) => d.role === 'battery')
      .map((d) => str(d.id)),
    ...arr(obj(raw.mqtt).devices)
      .map(obj)
      .filter((d) => d.role === 'battery')
      .map((d) => str(d.id)),
  ].filter((x): x is string => !!x);
  const battery = obj(policies.battery);
  if (battery.enabled === true)
    check(['control', 'policies', 'battery', 'id'], 'battery device', str(battery.id), batteryIds);
  const vppBattery = obj(obj(obj(raw.grid).vpp).battery);
  if (str(vppBattery.id)) check(['grid', 'vpp', 'battery', 'id'], 'battery device', str(vppBattery.id), batteryIds);
  return out;
}
