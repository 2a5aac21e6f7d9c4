import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { formatErrors, loadConfigFile, parseConfigText } from '../../src/config/load.js';

const run = promisify(execFile);

const VALID = `
site:
  id: depot-1
  limitW: 44000
  failsafeLimitW: 11000
  circuits:
    - { id: feeder-a, maxCurrentA: 63 }
chargers:
  - { id: CP1, circuit: feeder-a, password: "\${CP1_PASSWORD}" }
`;

describe('config', () => {
  it('accepts a valid file, fills defaults and substitutes secrets from the environment', () => {
    const r = parseConfigText(VALID, { CP1_PASSWORD: 's3cret' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.site.voltageV).toBe(230);
    expect(r.config.chargers[0]?.password).toBe('s3cret');
    expect(r.config.chargers[0]?.minCurrentA).toBe(6);
    expect(r.config.api.host).toBe('127.0.0.1');
  });

  it('lists every error with its path, not only the first', () => {
    const text = `
site:
  id: "bad id"
  limitW: -5
  failsafeLimitW: 100
  circuits:
    - { id: a, maxCurrentA: 10 }
    - { id: b, maxCurrentA: 10, parent: nowhere }
    - { id: c, maxCurrentA: "lots" }
chargers:
  - { id: CP1, circuit: zz, minCurrentA: 40, maxCurrentA: 16 }
  - { id: CP1, phases: 2 }
bogus: true
`;
    const r = parseConfigText(text, {});
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const lines = formatErrors(r.errors).split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^site\.id: /),
        expect.stringMatching(/^site\.limitW: /),
        'site.circuits[2].maxCurrentA: expected number, received string',
        expect.stringMatching(/^chargers\[1\]\.phases: /),
        'bogus: unknown key',
      ]),
    );
    // Cross-field rules only run once the shape is valid; check them separately.
    const r2 = parseConfigText(
      `site: {id: s, limitW: 1000, failsafeLimitW: 10, circuits: [{id: b, maxCurrentA: 10, parent: nowhere}]}
chargers: [{id: CP1, circuit: zz, minCurrentA: 40, maxCurrentA: 16}, {id: CP1}]`,
      {},
    );
    expect(r2.ok).toBe(false);
    if (r2.ok) return;
    expect(formatErrors(r2.errors).split('\n')).toEqual(
      expect.arrayContaining([
        'site.circuits[0].parent: unknown circuit "nowhere"',
        'chargers[0].circuit: unknown circuit "zz"',
        'chargers[0].minCurrentA: must not exceed maxCurrentA',
        'chargers[1].id: duplicate charger id "CP1"',
      ]),
    );
  });

  it('reports a missing secret as an error at its path instead of using an empty string', () => {
    const r = parseConfigText(VALID, {});
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toContainEqual({
      path: 'chargers[0].password',
      message: 'environment variable CP1_PASSWORD is not set',
    });
  });

  it('reports YAML syntax errors with a line number', () => {
    const r = parseConfigText('site:\n  id: [unclosed\n', {});
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors[0]?.path).toMatch(/^line \d+:\d+$/);
  });

  it('the production template is valid once its secrets are in the environment, and lists each missing one', () => {
    const env = {
      CP_DEPOT_N_01_PASSWORD: 'a',
      CP_DEPOT_N_02_PASSWORD: 'b',
      CP_DEPOT_N_03_PASSWORD: 'c',
      GRIDKEEPER_CMS_PASSWORD: 'd',
    };
    const ok = loadConfigFile('config/site.example.yaml', env);
    expect(ok.ok ? [] : ok.errors).toEqual([]);
    if (ok.ok) expect(ok.config.api.anonymousRead).toBe(false);
    const missing = loadConfigFile('config/site.example.yaml', {});
    expect(missing.ok).toBe(false);
    if (!missing.ok) expect(missing.errors.filter((e) => e.message.includes('is not set'))).toHaveLength(4);
  });

  it('listens on nothing beyond localhost unless configured: every listen address defaults to 127.0.0.1', () => {
    const r = parseConfigText(VALID, { CP1_PASSWORD: 'x' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const hosts: Array<[string, unknown]> = [];
    const walk = (v: unknown, path: string) => {
      if (Array.isArray(v)) {
        for (const [i, x] of v.entries()) walk(x, `${path}[${i}]`);
      } else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (/host$/i.test(k) && typeof x === 'string') hosts.push([`${path}.${k}`, x]);
          walk(x, path ? `${path}.${k}` : k);
        }
      }
    };
    walk(r.config, '');
    // API (with the OpenADR callback and OSCP endpoints on it), OCPP, embedded MQTT broker.
    expect(hosts.map(([p]) => p).sort()).toEqual(['api.host', 'mqtt.host', 'ocpp.host']);
    for (const [path, host] of hosts) expect([path, host]).toEqual([path, '127.0.0.1']);
  });

  it('reports an unreadable file', () => {
    const r = loadConfigFile('/nonexistent/site.yaml', {});
    expect(r.ok).toBe(false);
  });

  it('check-config exits 2 and prints every error; exits 0 for the demo config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-cfg-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'site:\n  id: x\n  limitW: "much"\n  circuits:\n    - { id: a }\n');
    const cli = ['--import', 'tsx', 'src/cli/main.ts'];
    const err = await run(process.execPath, [...cli, 'check-config', bad]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toContain('site.limitW: expected number, received string');
    expect(err?.stderr).toContain('site.failsafeLimitW:');
    expect(err?.stderr).toContain('site.circuits[0].maxCurrentA:');
    const ok = await run(process.execPath, [...cli, 'check-config', 'config/demo.yaml']);
    expect(ok.stdout).toContain('ok');
  });
});
