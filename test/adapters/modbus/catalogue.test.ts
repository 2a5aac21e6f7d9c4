import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { registerCount } from '../../../adapters/modbus/codec.js';
import { DEVICES_DOC, renderDevicesMarkdown } from '../../../adapters/modbus/docs.js';
import { createModbusAdapter } from '../../../adapters/modbus/index.js';
import { decodePoint } from '../../../adapters/modbus/profile-device.js';
import { checkProfileFile, loadProfiles, profileFiles } from '../../../adapters/modbus/profiles.js';
import { adapterConfigErrors } from '../../../src/cli/checks.js';
import { parseConfigText } from '../../../src/config/load.js';
import { ModbusSchema } from '../../../src/config/sections/modbus.js';
import { pointTable } from '../../../sim/devices/modbus/device-map.js';
import { SIM_DEVICE_MAPS } from '../../../sim/devices/modbus/device-maps.js';
import { ModbusChargerSim, ProfileMeterSim } from '../../../sim/devices/modbus/profile-sim.js';
import { encodeRaw, notImplemented, wordsOf } from '../../../sim/devices/modbus/registers.js';
import { SitePhysics } from '../../../sim/site/physics.js';
import { advanceUntil, recorder, testDeps } from './helpers.js';

const files = profileFiles();

describe('device profile catalogue', () => {
  it('has the profiles the gateway promises', () => {
    const names = files.map((f) => basename(f, '.yaml'));
    expect(names).toEqual(
      expect.arrayContaining([
        'eastron-sdm630',
        'janitza-umg604',
        'alfen-eve',
        'keba-p30',
        'abb-terra-ac',
        'mennekes-amtron-professional',
        'wallbox-quasar',
      ]),
    );
  });

  it.each(files.map((f) => [basename(f), f]))('%s is valid (schema, overlaps, units, writable points)', (_n, file) => {
    const r = checkProfileFile(file);
    expect(r.errors).toEqual([]);
    expect(basename(file)).toMatch(/^[a-z0-9]+(-[a-z0-9]+)+\.yaml$/);
  });

  it('the promised breadth: at least 30 profiles, every one naming its vendor document', () => {
    const profiles = loadProfiles();
    expect(profiles.size).toBeGreaterThanOrEqual(30);
    for (const p of profiles.values()) {
      expect(p.source.document.length, p.name).toBeGreaterThan(0);
      expect(p.source.readAt.length, p.name).toBeGreaterThan(0);
      // A map nobody checked against a document says so, in the profile and in its description.
      if (!p.verified) expect(p.description, p.name).toMatch(/UNVERIFIED/);
      expect(p.vendor, `${p.name}: no "-like" vendors, mark the map verified: false instead`).not.toMatch(/-like/i);
    }
  });

  it('refuses a profile without its vendor document', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-nosource-'));
    try {
      const f = join(dir, 'x-nosource.yaml');
      writeFileSync(
        f,
        'vendor: X\nmodel: Y\nkind: meter\nusages: [grid]\npoints:\n  - { name: p, quantity: power, address: 0, type: int16, unit: W }\n',
      );
      expect(checkProfileFile(f).errors).toEqual([`${f}: source: Invalid input: expected object, received undefined`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe.each(files.map((f) => [basename(f, '.yaml')]))(
    '%s against the register map of its simulated device',
    (name) => {
      const profile = loadProfiles().get(name);
      const map = SIM_DEVICE_MAPS.get(name);
      const order = map?.wordOrder;

      it('every profile point is a register the device documents, of the same width and table', () => {
        if (!profile || !map) throw new Error(`${name}: profile or simulator map missing`);
        for (const pt of profile.points) {
          const sp = map.points.find((x) => x.address === pt.address);
          expect(sp, `${name}.${pt.name} at ${pt.address}`).toBeDefined();
          if (!sp) continue;
          expect(registerCount(pt.type), `${name}.${pt.name} width`).toBe(wordsOf(sp.type));
          expect(pt.table ?? profile.defaults.table, `${name}.${pt.name} table`).toBe(pointTable(map, sp));
          const writable = pt.access !== 'r';
          expect(writable, `${name}.${pt.name} access`).toBe(sp.access === 'rw' || sp.access === 'w');
          // Word order: the device's flag and the profile's must agree for multi-register values.
          if (registerCount(pt.type) > 1) {
            const profileOrder = pt.wordOrder ?? profile.defaults.wordOrder;
            expect(profileOrder === 'little', `${name}.${pt.name} word order`).toBe(order === 'low-first');
          }
        }
      });

      it('values the device encodes decode to the same engineering value (type, scale, sign, word order)', () => {
        if (!profile || !map) throw new Error(`${name}: profile or simulator map missing`);
        for (const pt of profile.points) {
          const sp = map.points.find((x) => x.address === pt.address);
          if (!sp || sp.quantity === 'status' || pt.unit === 'enum' || pt.access === 'w') continue;
          const per = sp.per ?? 1;
          const signed = ['int16', 'int32', 'int64'].includes(pt.type);
          // Values on the device's own step, both directions when the register is signed.
          const steps = signed ? [0, 1, 7, 1234, -1, -7, -1234] : [0, 1, 7, 1234];
          for (const n of steps) {
            const value = n * Math.abs(per) * (per < 0 ? -1 : 1);
            if (per < 0 && !signed) continue;
            // A raw value the device documents as "not available" is no value (checked in the next test).
            if ((sp.invalid ?? []).includes(value / per)) continue;
            const regs = encodeRaw(sp.type, value / per, order);
            const got = decodePoint(profile, pt, regs);
            expect(got, `${name}.${pt.name} raw ${value / per}`).toBeCloseTo(value, 6);
          }
        }
      });

      it('the "not available" values the device documents read as missing, never as numbers', () => {
        if (!profile || !map) throw new Error(`${name}: profile or simulator map missing`);
        for (const pt of profile.points) {
          const sp = map.points.find((x) => x.address === pt.address);
          if (!sp) continue;
          expect([...pt.invalid].sort(), `${name}.${pt.name} invalid values`).toEqual([...(sp.invalid ?? [])].sort());
          for (const raw of sp.invalid ?? []) {
            expect(
              decodePoint(profile, pt, encodeRaw(sp.type, raw, order)),
              `${name}.${pt.name} ${raw}`,
            ).toBeUndefined();
          }
          if (sp.type === 'float32') {
            expect(decodePoint(profile, pt, notImplemented('float32')), `${name}.${pt.name} NaN`).toBeUndefined();
          }
        }
      });

      it('status codes of the device map onto the same EVSE status', () => {
        if (!profile || !map) throw new Error(`${name}: profile or simulator map missing`);
        const st = profile.points.find((p) => p.quantity === 'status');
        if (profile.kind !== 'charger') {
          expect(st).toBeUndefined();
          return;
        }
        expect(st?.enum, `${name}: status enum`).toBeDefined();
        for (const [status, code] of Object.entries(map.status ?? {})) {
          expect(st?.enum?.[String(code)], `${name}: device code ${code}`).toBe(status);
        }
      });
    },
  );

  it.each(files.map((f) => [basename(f, '.yaml')]))(
    '%s is read end to end in every usage against the independently written simulator of that device',
    async (name) => {
      const profile = loadProfiles().get(name);
      if (!profile) throw new Error(`profile ${name} not loaded`);
      for (const usage of profile.usages) {
        const deps = testDeps();
        const rec = recorder(deps.bus);
        const physics = new SitePhysics({ clock: deps.clock });
        physics.setBaseLoadStep(4321);
        const sim =
          profile.kind === 'charger'
            ? new ModbusChargerSim({ device: name, physics, clock: deps.clock })
            : new ProfileMeterSim({ device: name, physics });
        await sim.start();
        const a = createModbusAdapter(
          ModbusSchema.parse({ devices: [{ id: 'd', role: usage, port: sim.port, profile: name }] }),
          deps,
        );
        try {
          await a.start();
          await advanceUntil(deps.clock, () => (a.devices.get('d')?.polls ?? 0) > 0, 100, 5000);
          expect(a.devices.get('d')?.isOnline, `${name} as ${usage}`).toBe(true);
          if (usage === 'grid') {
            // The grid power the simulated device measured arrives with the gateway's sign (+ import).
            const want = physics.gridPowerW();
            expect(Math.abs(want), 'the site draws power, so a sign error would show').toBeGreaterThan(100);
            expect(rec.last('grid')?.powerW?.value, `${name} grid power`).toBeCloseTo(want, 0);
          }
        } finally {
          await a.stop();
          await sim.stop();
        }
      }
    },
  );

  it('a masked status keeps only its documented bits (ABB Terra AC: state in byte 1, flag and spare bytes around it)', () => {
    const abb = loadProfiles().get('abb-terra-ac');
    const st = abb?.points.find((p) => p.name === 'chargingState');
    if (!abb || !st) throw new Error('abb-terra-ac chargingState missing');
    const status = (raw: number) => st.enum?.[String(decodePoint(abb, st, encodeRaw('uint32', raw)))];
    // C2 (4) in bits 14..8: charging, whether or not bit 15 ("below the commanded value") and the spare bytes are set.
    expect(status(0x0000_0400)).toBe('Charging');
    expect(status(0x0000_8400)).toBe('Charging');
    expect(status(0xffff_84ff)).toBe('Charging');
    expect(status(0x0000_8000)).toBe('Available');
    expect(status(0x0000_0100)).toBe('Preparing');
    // State 5 ("others") has no EVSE status: the device reads as Unavailable.
    expect(status(0x0000_0500)).toBeUndefined();
  });

  describe('catches broken profiles and names file and point', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-profiles-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const write = (name: string, body: string) => {
      const f = join(dir, name);
      writeFileSync(f, body);
      return f;
    };
    const head =
      'vendor: X\nmodel: Y\nkind: charger\nsource: { document: D, version: "1", readAt: [here] }\nusages: [charger]\ncharger: {}\npoints:\n';
    const status =
      "  - { name: st, quantity: status, address: 0, type: uint16, unit: enum, enum: { '0': Available } }\n";

    it('overlapping registers', () => {
      const f = write(
        'x-overlap.yaml',
        `${head}${status}  - { name: p, quantity: power, address: 10, type: float32, unit: W }\n  - { name: q, quantity: energy, address: 11, type: uint16, unit: Wh }\n  - { name: lim, quantity: currentLimit, address: 20, type: uint16, unit: A, access: rw, min: 0, max: 32, revertTimeoutS: 60 }\n`,
      );
      expect(checkProfileFile(f).errors).toEqual([`${f}: q: registers holding 11-11 overlap p (10-11)`]);
    });

    it('writable point without range or revert time, and a set-point that never reverts', () => {
      const f = write(
        'x-writable.yaml',
        `${head}${status}  - { name: lim, quantity: currentLimit, address: 20, type: uint16, unit: A, access: rw, revertTimeoutS: 0 }\n  - { name: fb, quantity: fallbackCurrent, address: 21, type: uint16, unit: A, access: rw, min: 0, max: 16 }\n`,
      );
      expect(checkProfileFile(f).errors).toEqual([
        `${f}: lim: writable point needs min and max`,
        `${f}: lim: a set-point must revert (revertTimeoutS > 0) so a dead gateway cannot leave it`,
        `${f}: fb: writable point needs revertTimeoutS`,
      ]);
    });

    it('unknown unit, wrong unit for the quantity, bad status names', () => {
      const f = write(
        'x-units.yaml',
        `${head}  - { name: st, quantity: status, address: 0, type: uint16, unit: enum, enum: { '0': Idle } }\n  - { name: p, quantity: power, address: 10, type: int16, unit: A }\n  - { name: lim, quantity: currentLimit, address: 20, type: uint16, unit: furlongs }\n`,
      );
      const errors = checkProfileFile(f).errors;
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(new RegExp(`^${f}: points\\[2\\] \\(lim\\)\\.unit: `));
      const g = write(
        'x-units2.yaml',
        `${head}  - { name: st, quantity: status, address: 0, type: uint16, unit: enum, enum: { '0': Idle } }\n  - { name: p, quantity: power, address: 10, type: int16, unit: A }\n  - { name: lim, quantity: currentLimit, address: 20, type: uint16, unit: A, access: rw, min: 0, max: 32, revertTimeoutS: 30 }\n`,
      );
      expect(checkProfileFile(g).errors).toEqual([
        `${g}: st: enum 0 -> "Idle" is not an EVSE status`,
        `${g}: p: quantity power needs a unit in W, got A`,
      ]);
    });

    it('a mask on a writable, signed or too narrow point', () => {
      const f = write(
        'x-mask.yaml',
        `${head}  - { name: st, quantity: status, address: 0, type: uint16, mask: 0x1FF00, unit: enum, enum: { '0': Available } }\n  - { name: t, quantity: other, address: 1, type: int16, mask: 0xFF, unit: enum }\n  - { name: lim, quantity: currentLimit, address: 20, type: uint16, mask: 0xFF, unit: A, access: rw, min: 0, max: 32, revertTimeoutS: 30 }\n`,
      );
      expect(checkProfileFile(f).errors).toEqual([
        `${f}: st: mask 0x1ff00 is wider than uint16`,
        `${f}: t: mask needs an unsigned 16- or 32-bit type`,
        `${f}: lim: mask is for read-only points`,
      ]);
    });

    it('loadProfiles refuses a directory with a broken file, listing it', () => {
      write('x-broken.yaml', 'vendor: X\n');
      expect(() => loadProfiles([dir])).toThrow(/x-broken\.yaml: model: /);
    });
  });

  it('docs/devices.md is generated from the catalogue and up to date', () => {
    const doc = readFileSync(DEVICES_DOC, 'utf8');
    expect(doc, 'regenerate with writeDevicesDoc() from adapters/modbus/docs.ts').toBe(renderDevicesMarkdown());
    for (const f of files) expect(doc).toContain(`\`${basename(f, '.yaml')}\``);
  });
});

describe('modbus config against the catalogue', () => {
  it('reports unknown profiles and roles a profile does not support, with paths', async () => {
    const { checkModbusConfig } = await import('../../../adapters/modbus/index.js');
    const cfg = ModbusSchema.parse({
      devices: [
        { id: 'a', role: 'grid', profile: 'eastron-sdm630' },
        { id: 'b', role: 'charger', profile: 'no-such-thing' },
        { id: 'c', role: 'charger', profile: 'eastron-sdm630' },
      ],
    });
    const issues = checkModbusConfig(cfg);
    expect(issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      expect.stringMatching(/^devices\.1\.profile: unknown profile "no-such-thing" \(known: .*eastron-sdm630/),
      'devices.2.role: profile "eastron-sdm630" supports grid, pv, load, not charger',
    ]);
    expect(() => createModbusAdapter(cfg, testDeps())).toThrow(/modbus\.devices\.1\.profile: unknown profile/);
  });
});

describe('docs/examples.md', () => {
  const doc = readFileSync(join(DEVICES_DOC, '..', 'examples.md'), 'utf8');
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');

  it('has the three worked examples: SDM630 on RS-485, a Modbus charger, an external MQTT broker', () => {
    expect(blocks).toHaveLength(3);
    expect(blocks[0]).toMatch(/transport: rtu[\s\S]*profile: eastron-sdm630/);
    expect(blocks[1]).toMatch(/role: charger[\s\S]*profile: alfen-eve/);
    expect(blocks[2]).toMatch(/broker: external/);
  });

  it.each(blocks.map((b, i) => [i + 1, b]))('example %i passes check-config', (_i, text) => {
    const env = { MQTT_USERNAME: 'u', MQTT_PASSWORD: 'p' };
    const r = parseConfigText(text, env);
    const errors = r.ok ? adapterConfigErrors(r.config) : r.errors;
    expect(errors).toEqual([]);
  });
});
