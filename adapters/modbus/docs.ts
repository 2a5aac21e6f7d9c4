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
  out.push('## Device profiles');
  out.push('');
  out.push('| Profile | Vendor | Model | Kind | Usages | Also sold as |');
  out.push('|---|---|---|---|---|---|');
  for (const p of profiles.values()) {
    out.push(
      `| \`${p.name}\` | ${p.vendor} | ${p.model} | ${p.kind} | ${p.usages.join(', ')} | ${p.aliases.join(', ') || '—'} |`,
    );
  }
  for (const p of profiles.values()) {
    out.push('');
    out.push(`### ${p.vendor} ${p.model} (\`${p.name}\`)`);
    out.push('');
    if (p.description) out.push(p.description.trim(), '');
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
          `${pt.type} | ${pt.unit} | ${pt.scale} | ${pt.access} | ${range} | ${revert} |`,
      );
    }
  }
  out.push('');
  out.push('## Adding a device');
  out.push('');
  out.push(
    'Add one file, `adapters/modbus/profiles/<vendor>-<model>.yaml` (or a file in a directory listed in ' +
      '`modbus.profileDirs`), and reference it from the site config with `profile: <vendor>-<model>`. No code. ' +
      'The catalogue test (`test/adapters/modbus/catalogue.test.ts`) checks the schema, register overlaps, units, ' +
      'and that every writable point has a range and a revert time; every profile is also read end to end against ' +
      'a simulator built from the same file. Regenerate this page afterwards.',
  );
  out.push('');
  return out.join('\n');
}

export const DEVICES_DOC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'devices.md');

/** Writes `docs/devices.md`; returns its path. */
export function writeDevicesDoc(path: string = DEVICES_DOC): string {
  writeFileSync(path, renderDevicesMarkdown());
  return path;
}

// `tsx adapters/modbus/docs.ts` regenerates the page (the lead wires it as an npm script).
if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${writeDevicesDoc()}\n`);
}
