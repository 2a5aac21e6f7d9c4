import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerBackupCommand } from '../../src/cli/commands/backup.js';
import type { CommandIo } from '../../src/cli/commands/io.js';
import { registerKeysCommand } from '../../src/cli/commands/keys.js';
import { sunOffsetMs } from '../../src/cli/demo.js';
import { formatLogLine } from '../../src/cli/log-format.js';
import { VirtualClock } from '../../src/model/clock.js';
import { SitePhysics } from '../../sim/site/physics.js';

function cli() {
  const out: string[] = [];
  const err: string[] = [];
  let code = 0;
  const io: CommandIo = { out: (t) => out.push(t), err: (t) => err.push(t), env: {}, fail: (c) => (code = c) };
  const program = new Command().exitOverride();
  const keys = registerKeysCommand(program, io);
  const backup = registerBackupCommand(program, io);
  for (const c of [keys, backup, ...keys.commands]) c.exitOverride().configureOutput({ writeErr: () => undefined });
  return {
    run: (args: string[]) => program.parseAsync(['node', 'gridkeeper', ...args]),
    out,
    err,
    code: () => code,
  };
}

describe('keys and backup without a site file', () => {
  it('keys use the demo database in --data-dir (data/ by default), and say so; none there is one clear line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-cmd-'));
    const none = cli();
    await none.run(['keys', 'create', '--name', 'fleet', '--scopes', 'read', '--data-dir', dir]);
    expect(none.code()).toBe(2);
    expect(none.err.join('')).toMatch(/demo.db does not exist yet: start the demo with npm start first/);

    // The demo's database, as `npm start` leaves it.
    const first = cli();
    await first.run(['keys', 'create', '--name', 'seed', '--scopes', 'read', '--db', join(dir, 'demo.db')]);
    expect(first.code()).toBe(0);

    const c = cli();
    await c.run(['keys', 'create', '--name', 'fleet-tool', '--scopes', 'read,control', '--data-dir', dir]);
    expect(c.code()).toBe(0);
    expect(c.out.join('')).toMatch(/key: +\S{20,}/);
    expect(c.err.join('')).toContain(`using the demo's database ${join(dir, 'demo.db')}`);
  });

  it('backup copies a database that is open for writing, checks the copy and never overwrites', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-backup-'));
    const source = join(dir, 'gw.db');
    const seed = cli();
    await seed.run(['keys', 'create', '--name', 'a', '--scopes', 'read', '--db', source]);
    // A writer holds the database open in WAL mode, as the running gateway does, with rows only in the WAL.
    const writer = new Database(source);
    writer.pragma('journal_mode = WAL');
    writer.exec('CREATE TABLE IF NOT EXISTS probe (n INTEGER)');
    const insert = writer.prepare('INSERT INTO probe (n) VALUES (?)');
    for (let i = 0; i < 500; i++) insert.run(i);
    try {
      const out = join(dir, 'copy.db');
      const c = cli();
      await c.run(['backup', out, '--db', source]);
      expect(c.code()).toBe(0);
      expect(c.out.join('')).toMatch(/integrity ok/);
      const copy = new Database(out, { readonly: true });
      expect((copy.prepare('SELECT COUNT(*) AS n FROM probe').get() as { n: number }).n).toBe(500);
      copy.close();

      const again = cli();
      await again.run(['backup', out, '--db', source]);
      expect(again.code()).toBe(2);
      expect(again.err.join('')).toMatch(/exists/);

      const missing = cli();
      await missing.run(['backup', join(dir, 'x.db'), '--db', join(dir, 'nope.db')]);
      expect(missing.code()).toBe(2);
      expect(existsSync(join(dir, 'x.db'))).toBe(false);
    } finally {
      writer.close();
    }
  });
});

describe('simulated sun and log lines', () => {
  it('the demo sun stands at the asked solar time whatever the clock says', () => {
    const night = Date.UTC(2026, 11, 5, 23, 30);
    const offset = sunOffsetMs('11:00', night);
    expect(new Date(night + offset).toISOString().slice(11, 16)).toBe('11:00');
    expect(sunOffsetMs('clock', night)).toBe(0);
    expect(() => sunOffsetMs('25:00', night)).toThrow(/HH:MM/);
    const clock = new VirtualClock(night);
    const dark = new SitePhysics({ clock, pvPeakW: 15_000 });
    const sunny = new SitePhysics({ clock, pvPeakW: 15_000, sunOffsetMs: offset });
    expect(dark.pvPowerW()).toBe(0);
    expect(sunny.pvPowerW()).toBeGreaterThan(10_000);
  });

  it('a pino JSON line becomes one readable line', () => {
    const line = formatLogLine(
      JSON.stringify({
        level: 40,
        time: Date.UTC(2026, 0, 1, 9, 5, 7),
        component: 'ocpp',
        msg: 'charger gone',
        chargerId: 'CP1',
        n: 2,
      }),
      false,
    );
    expect(line).toBe('09:05:07 WARN  ocpp  charger gone  chargerId=CP1 n=2');
    expect(formatLogLine('not json', false)).toBe('not json');
  });
});
