import { readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';
import { EVSE_STATUSES } from '../../src/model/site.js';
import { registerCount } from './codec.js';

/**
 * Device profiles: a non-SunSpec meter, charger or battery is a YAML file in
 * `profiles/<vendor>-<model>.yaml`, validated by this schema. Quantities name
 * what a point means to the gateway; the generic profile device maps them
 * onto the bus, so a new brand needs a file and no code.
 */

/** Units a point may declare, with the factor to the gateway's base unit. */
export const UNITS = {
  W: { base: 'W', factor: 1 },
  kW: { base: 'W', factor: 1000 },
  mW: { base: 'W', factor: 0.001 },
  Wh: { base: 'Wh', factor: 1 },
  kWh: { base: 'Wh', factor: 1000 },
  A: { base: 'A', factor: 1 },
  mA: { base: 'A', factor: 0.001 },
  V: { base: 'V', factor: 1 },
  Hz: { base: 'Hz', factor: 1 },
  '%': { base: '%', factor: 1 },
  s: { base: 's', factor: 1 },
  ms: { base: 's', factor: 0.001 },
  enum: { base: 'enum', factor: 1 },
  bool: { base: 'bool', factor: 1 },
} as const;
export type Unit = keyof typeof UNITS;

/** What a point means; each has the base unit its value must convert to. */
export const QUANTITIES = {
  power: 'W',
  currentL1: 'A',
  currentL2: 'A',
  currentL3: 'A',
  voltageL1: 'V',
  voltageL2: 'V',
  voltageL3: 'V',
  frequency: 'Hz',
  importEnergy: 'Wh',
  exportEnergy: 'Wh',
  energy: 'Wh',
  sessionEnergy: 'Wh',
  soc: '%',
  status: 'enum',
  phases: 'enum',
  /** Writable: per-phase charging current limit. */
  currentLimit: 'A',
  /** Writable: signed power set-point (+ charge, - discharge). */
  powerSetpoint: 'W',
  /** Writable: seconds after which the device falls back to its safe value. */
  revertTimeout: 's',
  /** Writable: current the device falls back to when the gateway stops writing. */
  fallbackCurrent: 'A',
  /** Writable: switch into remote (gateway) control. */
  controlMode: 'enum',
  other: undefined,
} as const;
export type Quantity = keyof typeof QUANTITIES;

const registerTypes = [
  'int16',
  'uint16',
  'int32',
  'uint32',
  'float32',
  'int64',
  'uint64',
  'acc32',
  'acc64',
  'enum16',
  'bitfield16',
  'bitfield32',
] as const;

const address = z.union([
  z.number().int().min(0).max(0xffff),
  z
    .string()
    .regex(/^0x[0-9a-fA-F]{1,4}$/, 'hex address like 0x0034')
    .transform((s) => Number.parseInt(s, 16)),
]);

export const ProfilePointSchema = z
  .object({
    name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]*$/, 'letters, digits and _'),
    quantity: z.enum(Object.keys(QUANTITIES) as [Quantity, ...Quantity[]]),
    table: z.enum(['holding', 'input']).optional().describe('Defaults to the profile default.'),
    address: address.describe('Register address (0-based, as on the wire).'),
    type: z.enum(registerTypes),
    wordOrder: z.enum(['big', 'little']).optional(),
    byteOrder: z.enum(['big', 'little']).optional(),
    scale: z.number().default(1).describe('Multiplier from the raw register value to `unit`.'),
    unit: z.enum(Object.keys(UNITS) as [Unit, ...Unit[]]),
    sign: z.enum(['normal', 'inverted']).default('normal'),
    access: z.enum(['r', 'rw', 'w']).default('r'),
    min: z.number().optional().describe('Lowest value the gateway may write (unit of the point).'),
    max: z.number().optional(),
    revertTimeoutS: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe('Writable points: seconds after which the device reverts to its safe value without a new write.'),
    invalid: z.array(z.number()).default([]).describe('Raw values meaning "not available".'),
    mask: z
      .number()
      .int()
      .min(1)
      .max(0xffffffff)
      .optional()
      .describe(
        'Read-only integer points: bits of the raw value that carry it (a state byte beside spare bits); ' +
          'applied before `invalid` and `enum`, not shifted.',
      ),
    enum: z.record(z.string(), z.string()).optional().describe('Raw value -> meaning (status points: EVSE status).'),
    singleWrite: z.boolean().default(false).describe('Write with FC06 instead of FC16 (one register only).'),
    confirm: z
      .string()
      .optional()
      .describe('Write-only points: a readable point that must read back the written value.'),
  })
  .strict();

export const ProfileSchema = z
  .object({
    vendor: z.string().min(1),
    model: z.string().min(1),
    description: z.string().default(''),
    kind: z.enum(['meter', 'charger', 'inverter', 'battery']),
    source: z
      .object({
        document: z.string().min(1).describe('Title of the vendor document the register map follows.'),
        version: z.string().min(1).describe('Its version or date.'),
        readAt: z
          .array(z.string().min(1))
          .min(1)
          .describe('Where the facts were read (URL of the document or of a public project that carries them).'),
      })
      .strict()
      .describe('The vendor document this profile follows; a profile without one is refused.'),
    verified: z
      .boolean()
      .default(true)
      .describe('false: the map was not checked against the vendor document (try it on the bench first).'),
    aliases: z.array(z.string()).default([]).describe('Rebadged products with the same register map.'),
    usages: z
      .array(z.enum(['grid', 'pv', 'battery', 'charger', 'load']))
      .min(1)
      .describe('Roles the device can take; `pv` on a meter flips the sign (it measures production).'),
    defaults: z
      .object({
        table: z.enum(['holding', 'input']).default('holding'),
        wordOrder: z.enum(['big', 'little']).default('big'),
        byteOrder: z.enum(['big', 'little']).default('big'),
        maxGap: z
          .number()
          .int()
          .min(0)
          .max(32)
          .default(8)
          .describe('Unused registers a read may span to save a request; 0 for devices that refuse gaps.'),
        maxRegistersPerRead: z
          .number()
          .int()
          .min(1)
          .max(125)
          .default(120)
          .describe(
            'Most registers one request may ask for (Modbus allows 125; some devices take fewer, e.g. KEBA P40: 2).',
          ),
      })
      .strict()
      .prefault({}),
    pollMs: z.number().int().min(50).default(1000),
    charger: z
      .object({
        phases: z.union([z.literal(1), z.literal(3)]).default(3),
        minCurrentA: z.number().nonnegative().default(6),
        maxCurrentA: z.number().positive().default(32),
        bidirectional: z.boolean().default(false),
      })
      .strict()
      .optional(),
    /** Writes done once after each (re)connection, e.g. switch to remote control. */
    init: z.array(z.object({ point: z.string(), value: z.number() }).strict()).default([]),
    points: z.array(ProfilePointSchema).min(1),
  })
  .strict()
  .superRefine((p, ctx) => {
    const names = new Set<string>();
    p.points.forEach((pt, i) => {
      if (names.has(pt.name)) {
        ctx.addIssue({ code: 'custom', path: ['points', i, 'name'], message: `duplicate point "${pt.name}"` });
      }
      names.add(pt.name);
    });
    p.init.forEach((w, i) => {
      const pt = p.points.find((x) => x.name === w.point);
      if (!pt) ctx.addIssue({ code: 'custom', path: ['init', i, 'point'], message: `unknown point "${w.point}"` });
      else if (pt.access === 'r') {
        ctx.addIssue({ code: 'custom', path: ['init', i, 'point'], message: `point "${w.point}" is read-only` });
      }
    });
    if (p.kind === 'charger' && !p.charger) {
      ctx.addIssue({ code: 'custom', path: ['charger'], message: 'chargers need a charger section' });
    }
  });

export type ProfilePoint = z.infer<typeof ProfilePointSchema>;
export type DeviceProfile = z.infer<typeof ProfileSchema> & { readonly name: string; readonly file: string };

/** A rule of the catalogue beyond the schema; returns problems as "point: message". */
export function profileProblems(p: z.infer<typeof ProfileSchema>): string[] {
  const problems: string[] = [];
  const used: Array<{ table: string; from: number; to: number; name: string }> = [];
  for (const pt of p.points) {
    const table = pt.table ?? p.defaults.table;
    const from = pt.address;
    const to = from + registerCount(pt.type) - 1;
    for (const u of used) {
      if (u.table === table && from <= u.to && u.from <= to) {
        problems.push(`${pt.name}: registers ${table} ${from}-${to} overlap ${u.name} (${u.from}-${u.to})`);
      }
    }
    used.push({ table, from, to, name: pt.name });
    const wantBase = QUANTITIES[pt.quantity];
    const base = UNITS[pt.unit].base;
    if (wantBase !== undefined && wantBase !== base) {
      problems.push(`${pt.name}: quantity ${pt.quantity} needs a unit in ${wantBase}, got ${pt.unit}`);
    }
    if (pt.access !== 'r') {
      if (table !== 'holding') problems.push(`${pt.name}: writable points must be holding registers`);
      if (pt.min === undefined || pt.max === undefined) problems.push(`${pt.name}: writable point needs min and max`);
      else if (pt.min > pt.max) problems.push(`${pt.name}: min ${pt.min} > max ${pt.max}`);
      if (pt.revertTimeoutS === undefined) problems.push(`${pt.name}: writable point needs revertTimeoutS`);
      else if ((pt.quantity === 'currentLimit' || pt.quantity === 'powerSetpoint') && pt.revertTimeoutS <= 0) {
        problems.push(`${pt.name}: a set-point must revert (revertTimeoutS > 0) so a dead gateway cannot leave it`);
      }
      if (pt.confirm !== undefined) {
        const c = p.points.find((x) => x.name === pt.confirm);
        if (!c) problems.push(`${pt.name}: confirm point "${pt.confirm}" does not exist`);
        else if (c.access === 'w') problems.push(`${pt.name}: confirm point "${pt.confirm}" is not readable`);
      }
      if (pt.singleWrite && registerCount(pt.type) !== 1) problems.push(`${pt.name}: singleWrite needs a 16-bit type`);
    }
    if (pt.mask !== undefined) {
      if (pt.access !== 'r') problems.push(`${pt.name}: mask is for read-only points`);
      if (!['uint16', 'enum16', 'bitfield16', 'uint32', 'bitfield32'].includes(pt.type)) {
        problems.push(`${pt.name}: mask needs an unsigned 16- or 32-bit type`);
      } else if (registerCount(pt.type) === 1 && pt.mask > 0xffff) {
        problems.push(`${pt.name}: mask 0x${pt.mask.toString(16)} is wider than ${pt.type}`);
      }
    }
    if (pt.quantity === 'status') {
      if (!pt.enum) problems.push(`${pt.name}: status points need an enum`);
      else {
        for (const [raw, v] of Object.entries(pt.enum)) {
          if (!(EVSE_STATUSES as readonly string[]).includes(v)) {
            problems.push(`${pt.name}: enum ${raw} -> "${v}" is not an EVSE status`);
          }
        }
      }
    }
  }
  const has = (q: Quantity) => p.points.some((pt) => pt.quantity === q);
  if (p.kind === 'meter' && !has('power')) problems.push('profile: a meter needs a power point');
  if (p.kind === 'charger') {
    if (!has('status')) problems.push('profile: a charger needs a status point');
    if (!has('currentLimit') && !has('powerSetpoint')) {
      problems.push('profile: a charger needs a writable currentLimit or powerSetpoint');
    }
  }
  return problems;
}

export const CATALOGUE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'profiles');

export interface ProfileFileResult {
  readonly file: string;
  readonly name: string;
  readonly profile?: DeviceProfile;
  readonly errors: string[];
}

/** Parse and check one profile file; errors are "<file>: <path>: <message>". */
export function checkProfileFile(file: string): ProfileFileResult {
  const name = basename(file).replace(/\.ya?ml$/, '');
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return { file, name, errors: [`${file}: ${err instanceof Error ? err.message : String(err)}`] };
  }
  const r = ProfileSchema.safeParse(raw);
  if (!r.success) {
    return {
      file,
      name,
      errors: r.error.issues.map((i) => `${file}: ${describePath(raw, i.path)}: ${i.message}`),
    };
  }
  const problems = profileProblems(r.data).map((m) => `${file}: ${m}`);
  return { file, name, profile: { ...r.data, name, file }, errors: problems };
}

/** `points[3].min` becomes `points[3] (maxCurrent).min` so an installer finds the point. */
function describePath(raw: unknown, path: readonly PropertyKey[]): string {
  let out = '';
  let node: unknown = raw;
  for (const k of path) {
    node = node && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[k] : undefined;
    if (typeof k === 'number') {
      const nm = node && typeof node === 'object' ? (node as { name?: unknown }).name : undefined;
      out += `[${k}]${typeof nm === 'string' ? ` (${nm})` : ''}`;
    } else out += out ? `.${String(k)}` : String(k);
  }
  return out || '(root)';
}

export function profileFiles(dirs: readonly string[] = []): string[] {
  const files: string[] = [];
  for (const dir of [CATALOGUE_DIR, ...dirs]) {
    for (const f of readdirSync(dir).sort()) if (/\.ya?ml$/.test(f)) files.push(join(dir, f));
  }
  return files;
}

/** Load the catalogue (plus extra directories); throws listing every broken file. */
export function loadProfiles(dirs: readonly string[] = []): Map<string, DeviceProfile> {
  const out = new Map<string, DeviceProfile>();
  const errors: string[] = [];
  for (const file of profileFiles(dirs)) {
    const r = checkProfileFile(file);
    errors.push(...r.errors);
    if (r.profile && r.errors.length === 0) out.set(r.name, r.profile);
  }
  if (errors.length > 0) throw new Error(`invalid device profiles:\n${errors.join('\n')}`);
  return out;
}
