import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerCount } from './codec.js';
import { type DeviceProfile, loadProfiles } from './profiles.js';
import { SUNSPEC_MODELS } from './sunspec/models.js';

/**
 * Generates the supported-devices page from the catalogue, so the docs can
 * never list a device the code does not know (or miss one it does).
 */
export function renderDevicesMarkdown(profiles: ReadonlyMap<string, DeviceProfile> = loadProfiles()): string {
  const out: string[] = [];
  out.push('# Supported devices');
  out.push('');
  out.push('<!-- generated from adapters/modbus/profiles and adapters/modbus/sunspec/models.ts; do not edit -->');
  out.push('');
  out.push('## SunSpec (discovered, no profile needed)');
  out.push('');
  out.push(
    'Any device that exposes a SunSpec map (`SunS` at register 40000, 0 or 50000) is discovered by walking its models. ' +
      'Configure it with `sunspec: true` (the default) and its role:',
  );
  out.push('');
  out.push('| Model | Name | Role | Points used |');
  out.push('|---|---|---|---|');
  const role = (id: number) =>
    id === 1
      ? 'identification'
      : id >= 101 && id <= 113
        ? 'pv'
        : id >= 201 && id <= 204
          ? 'grid, load'
          : id === 124
            ? 'battery (control)'
            : 'battery';
  for (const m of SUNSPEC_MODELS.values()) {
    const pts = m.points.filter((p) => !p.name.endsWith('_SF')).map((p) => p.name);
    out.push(`| ${m.id} | ${m.name} | ${role(m.id)} | ${pts.join(', ')} |`);
  }
  out.push('');
  out.push(
    'Scale factors are read in the same request as their values; "not implemented" values (0x8000, 0xFFFF, ' +
      '0x80000000, NaN) are treated as missing, never as numbers.',
  );
  out.push('');
  out.push('### SunSpec devices known to work');
  out.push('');
  out.push(
    'These products expose SunSpec models over Modbus TCP and are read by discovery, without a profile. ' +
      'The list is field experience from other open-source energy managers (evcc templates that read them through ' +
      "SunSpec), not a test of this gateway's own; enable Modbus TCP (SunSpec) in the device first.",
  );
  out.push('');
  for (const [vendor, products] of SUNSPEC_KNOWN) out.push(`- **${vendor}**: ${products}`);
  out.push('');
  out.push('## Device profiles');
  out.push('');
  out.push(
    'Each profile follows a vendor register table, named under its heading with where the facts were read: ' +
      "the vendor's document itself, or a public project that carries the table (the version then says " +
      '"vendor PDF version not read"). Profiles marked **unverified** were not (or only in part) checked against ' +
      'a vendor table; their description says which registers stand on what. ' +
      'No map has been tried on real hardware by this project yet, only against simulators written from the same ' +
      'tables: try a new device on the bench first. ' +
      'Worked examples (an SDM630 on RS-485 as the grid meter, a Modbus charger, an external MQTT broker): ' +
      '[examples.md](examples.md).',
  );
  out.push('');
  out.push('| Profile | Vendor | Model | Kind | Usages | Also sold as | Follows a vendor table |');
  out.push('|---|---|---|---|---|---|---|');
  for (const p of profiles.values()) {
    out.push(
      `| \`${p.name}\` | ${p.vendor} | ${p.model} | ${p.kind} | ${p.usages.join(', ')} | ${p.aliases.join(', ') || '—'} | ` +
        `${p.verified ? 'yes' : '**unverified**'} |`,
    );
  }
  for (const p of profiles.values()) {
    out.push('');
    out.push(`### ${p.vendor} ${p.model} (\`${p.name}\`)`);
    out.push('');
    if (p.description) out.push(p.description.trim(), '');
    out.push(`Source: *${p.source.document}*, ${p.source.version}. Read at: ${p.source.readAt.join('; ')}.`, '');
    out.push(
      `Default table: ${p.defaults.table}; word order: ${p.defaults.wordOrder}; byte order: ${p.defaults.byteOrder}; ` +
        `poll: ${p.pollMs} ms.`,
    );
    if (p.charger) {
      out.push(
        `Charger: ${p.charger.phases} phase(s), ${p.charger.minCurrentA}–${p.charger.maxCurrentA} A` +
          `${p.charger.bidirectional ? ', bidirectional (V2G)' : ''}.`,
      );
    }
    if (p.init.length > 0) out.push(`On connect writes: ${p.init.map((w) => `${w.point} = ${w.value}`).join(', ')}.`);
    out.push('');
    out.push('| Point | Quantity | Table | Address | Type | Unit | Scale | Access | Range | Reverts after |');
    out.push('|---|---|---|---|---|---|---|---|---|---|');
    for (const pt of p.points) {
      const hex = `0x${pt.address.toString(16).padStart(4, '0').toUpperCase()}`;
      const regs = registerCount(pt.type);
      const range = pt.min !== undefined && pt.max !== undefined ? `${pt.min}…${pt.max}` : '';
      const revert = pt.access === 'r' ? '' : pt.revertTimeoutS ? `${pt.revertTimeoutS} s` : 'persistent';
      out.push(
        `| ${pt.name} | ${pt.quantity} | ${pt.table ?? p.defaults.table} | ${pt.address} (${hex}${regs > 1 ? `, ${regs} regs` : ''}) | ` +
          `${pt.type}${pt.mask !== undefined ? ` & 0x${pt.mask.toString(16).toUpperCase()}` : ''} | ${pt.unit} | ` +
          `${pt.scale} | ${pt.access} | ${range} | ${revert} |`,
      );
    }
  }
  out.push('');
  out.push('## Asked for, not in the catalogue yet');
  out.push('');
  out.push(
    'Profiles are written only from vendor register facts; these devices were left out because a fact the gateway ' +
      'needs could not be established, or the generic profile cannot express the device:',
  );
  out.push('');
  for (const [device, why] of NOT_COVERED) out.push(`- **${device}**: ${why}`);
  out.push('');
  out.push('## Adding a device');
  out.push('');
  out.push(
    'Add one file, `adapters/modbus/profiles/<vendor>-<model>.yaml` (or a file in a directory listed in ' +
      '`modbus.profileDirs`), and reference it from the site config with `profile: <vendor>-<model>`. No code. ' +
      'The catalogue test (`test/adapters/modbus/catalogue.test.ts`) checks the schema, register overlaps, units, ' +
      'and that every writable point has a range and a revert time; every profile is also read end to end against ' +
      'an independently written simulator map of the same device (`sim/devices/modbus/maps/<name>.json`), and each ' +
      'point is checked against that map: width, table, word order, scale, sign, and the "not available" values. ' +
      'A profile must name its vendor document (`source`); set `verified: false` when the map was not checked ' +
      'against one. Regenerate this page with `npm run docs:devices`.',
  );
  out.push('');
  return out.join('\n');
}

/** SunSpec products other energy managers read through discovery (evcc templates that use SunSpec models). */
const SUNSPEC_KNOWN: ReadonlyArray<readonly [string, string]> = [
  ['Enphase', 'IQ Gateway (Modbus TCP)'],
  ['Fronius', 'Symo GEN24 Plus, Primo GEN24 Plus, Verto Plus, Argeno; Fronius Smart Meter through the inverter'],
  ['Kostal', 'Plenticore, Smart Energy Meter (KSEM)'],
  ['SolarEdge', 'single- and three-phase inverters, hybrid (StorEdge) inverters, with a SolarEdge meter'],
];

/** Devices the catalogue was asked for and does not have, with the reason (kept honest here, not in a ticket). */
const NOT_COVERED: ReadonlyArray<readonly [string, string]> = [
  [
    'Phoenix Contact CHARX SEC-3xxx',
    'register map known from evcc (per-connector blocks of 1000, max current at +301, IEC 61851 state as an ASCII ' +
      'character at +299), but neither the vendor register table nor any driver states what the controller does when ' +
      'the energy manager stops writing; a set-point without a known revert is refused by the catalogue.',
  ],
  [
    'Mennekes AMTRON Compact 2.0s and Xtra/Premium (HCC3)',
    'the Compact needs a heartbeat register written every few seconds (0x0D00) or it drops the set-point; ' +
      'the generic profile device writes only on change and on connect. The AMTRON Professional / Charge Control ' +
      '(Bender controller) is in the catalogue.',
  ],
  ['Victron EV Charging Station', 'set-current register known (5016), revert behaviour without writes not documented.'],
  [
    'Sungrow battery (SH series)',
    'battery power (13021) is unsigned on older firmware, with the direction in the running-state bits (13000); ' +
      'the profile codec cannot combine them.',
  ],
  [
    'BYD battery',
    'only reachable through the inverter (Fronius/SMA via SunSpec model 802, Sungrow, Huawei) — use that.',
  ],
  ['Siemens PAC2200 energy counters', 'float64 registers (801/809), which the profile codec does not read.'],
];

export const DEVICES_DOC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'devices.md');

/** Writes `docs/devices.md`; returns its path. */
export function writeDevicesDoc(path: string = DEVICES_DOC): string {
  writeFileSync(path, renderDevicesMarkdown());
  return path;
}

// `npm run docs:devices` regenerates the page.
if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${writeDevicesDoc()}\n`);
}
