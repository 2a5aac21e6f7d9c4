import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { type KeysCommandIo, registerKeysCommand } from '../../src/cli/commands/keys.js';
import { apiFixture, auth } from '../api/fixture.js';

function cli() {
  const out: string[] = [];
  const err: string[] = [];
  let code = 0;
  const io: KeysCommandIo = { out: (t) => out.push(t), err: (t) => err.push(t), env: {}, fail: (c) => (code = c) };
  const program = new Command().exitOverride();
  const keys = registerKeysCommand(program, io);
  for (const c of [keys, ...keys.commands]) c.exitOverride().configureOutput({ writeErr: () => undefined });
  return {
    run: (args: string[]) => program.parseAsync(['node', 'gridkeeper', ...args]),
    out,
    err,
    code: () => code,
  };
}

describe('gridkeeper keys', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('creates a key the running gateway accepts at once, lists and revokes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-keys-'));
    dirs.push(dir);
    const dbPath = join(dir, 'gw.db');
    const configPath = join(dir, 'site.yaml');
    writeFileSync(configPath, `site: { id: t, limitW: 22000, failsafeLimitW: 4000 }\nstore: { path: ${dbPath} }\n`);
    const f = await apiFixture({ storePath: dbPath });
    try {
      const c = cli();
      await c.run(['keys', 'create', '--config', configPath, '--name', 'fleet', '--scopes', 'read,control']);
      expect(c.code()).toBe(0);
      const key = /key:\s+(gk_\S+)/.exec(c.out.join(''))?.[1];
      const id = /id:\s+(\S+)/.exec(c.out.join(''))?.[1];
      expect(key).toBeDefined();
      const ok = await f.api.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: auth(key!) });
      expect(ok.statusCode).toBe(200);

      const l = cli();
      await l.run(['keys', 'list', '--db', dbPath]);
      expect(l.out.join('')).toMatch(new RegExp(`${id}\\s+fleet\\s+read,control\\s+gk_\\S+…\\s+active`));
      expect(l.out.join('')).not.toContain(key);

      const r = cli();
      await r.run(['keys', 'revoke', id!, '--db', dbPath]);
      expect(r.code()).toBe(0);
      expect((await f.api.app.inject({ method: 'GET', url: '/api/v1/state', headers: auth(key!) })).statusCode).toBe(
        401,
      );
    } finally {
      await f.close();
    }
  });

  it('refuses unknown scopes and a missing store', async () => {
    const c = cli();
    await expect(c.run(['keys', 'create', '--db', ':memory:', '--name', 'x', '--scopes', 'read,root'])).rejects.toThrow(
      /scopes must be/,
    );
    const d = cli();
    // An empty demo data directory: the test must not pick up a demo database left in the checkout.
    const empty = mkdtempSync(join(tmpdir(), 'gk-keys-nodemo-'));
    await d.run(['keys', 'create', '--name', 'x', '--scopes', 'read', '--data-dir', empty]);
    expect(d.code()).toBe(2);
    expect(d.err.join('')).toMatch(/--config/);
  });
});
