import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { adapterConfigErrors } from '../../src/cli/checks.js';
import { isLocalhost, securityConfigErrors } from '../../src/cli/checks-security.js';
import { loadConfigFile } from '../../src/config/load.js';
import { testConfig } from '../helpers/core.js';

const CONFIG_DIR = new URL('../../config/', import.meta.url).pathname;
const ROOT = new URL('../../', import.meta.url).pathname;

/** Every `${VAR}` a file refers to, set to a dummy secret (as an operator's environment would). */
function envFor(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) env[m[1] as string] = `secret-${m[1]}-0123456789`;
  return env;
}

describe('secure by default', () => {
  const shipped = readdirSync(CONFIG_DIR).filter((f) => f.endsWith('.yaml'));

  it.each(shipped)('shipped %s passes check-config, and a public OCPP listener in it authenticates', (file) => {
    const path = join(CONFIG_DIR, file);
    const r = loadConfigFile(path, envFor(readFileSync(path, 'utf8')));
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(adapterConfigErrors(r.config)).toEqual([]);
    const o = r.config.ocpp;
    if (!isLocalhost(o.host)) {
      expect(o.securityProfile).toBeGreaterThanOrEqual(1);
      expect(o.allowUnauthenticated).toBe(false);
      // Passwords come from the environment, never written into the file.
      const raw = readFileSync(path, 'utf8');
      expect(raw).not.toMatch(/password:\s*"?[^"$\s{]/);
    }
  });

  it('refuses OCPP on a public address without authentication and says how to fix it', () => {
    const errors = securityConfigErrors(testConfig({ ocpp: { host: '0.0.0.0', port: 0 } }));
    expect(errors).toHaveLength(1);
    expect(errors[0]?.path).toBe('ocpp.securityProfile');
    expect(errors[0]?.message).toMatch(/securityProfile: 1/);
    expect(errors[0]?.message).toMatch(/allowUnauthenticated: true/);
    expect(errors[0]?.message).toMatch(/127\.0\.0\.1/);
  });

  it('accepts profile 1 or 2, localhost, or an explicit allowUnauthenticated', () => {
    const ok = [
      testConfig({ ocpp: { host: '0.0.0.0', port: 0, securityProfile: 1 } }),
      testConfig({ ocpp: { host: '127.0.0.1', port: 0 } }),
      testConfig({ ocpp: { host: 'localhost', port: 0 } }),
      testConfig({ ocpp: { host: '::1', port: 0 } }),
      testConfig({ ocpp: { host: '0.0.0.0', port: 0, allowUnauthenticated: true } }),
    ];
    for (const c of ok) expect(securityConfigErrors(c)).toEqual([]);
    for (const host of ['0.0.0.0', '::', '192.168.1.20', 'gateway.local', '[::]'])
      expect(isLocalhost(host)).toBe(false);
  });

  it('refuses anonymous API reads on a public address unless said explicitly', () => {
    const bad = securityConfigErrors(testConfig({ api: { host: '0.0.0.0', port: 0, anonymousRead: true } }));
    expect(bad.map((e) => e.path)).toEqual(['api.anonymousRead']);
    expect(bad[0]?.message).toMatch(/API keys/);
    const keysOnly = testConfig({ api: { host: '0.0.0.0', port: 0, anonymousRead: false } });
    expect(securityConfigErrors(keysOnly)).toEqual([]);
    const explicit = testConfig({ api: { host: '0.0.0.0', port: 0, anonymousRead: true, allowUnauthenticated: true } });
    expect(securityConfigErrors(explicit)).toEqual([]);
  });

  const dir = mkdtempSync(join(tmpdir(), 'gk-sec-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // One process run (the CLI's exit code and message); the passing side is the loadConfigFile case above.
  it('`gridkeeper check-config` exits 2 on an open public listener and names the fix', () => {
    const site = (ocpp: string) =>
      `site: { id: t, limitW: 22000, failsafeLimitW: 4000 }\nstore: { path: ':memory:' }\nocpp:\n${ocpp}\n`;
    const open = join(dir, 'open.yaml');
    writeFileSync(open, site('  host: 0.0.0.0'));
    const cli = (file: string) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'check-config', file], {
        cwd: ROOT,
        encoding: 'utf8',
      });
    const bad = cli(open);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/ocpp\.securityProfile/);
    expect(bad.stderr).toMatch(/without authentication/);
    const fixed = loadConfigFile(open, {});
    if (!fixed.ok) throw new Error(JSON.stringify(fixed.errors));
    expect(adapterConfigErrors({ ...fixed.config, ocpp: { ...fixed.config.ocpp, securityProfile: 1 } })).toEqual([]);
  }, 60_000);
});
