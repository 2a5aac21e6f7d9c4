import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Command } from 'commander';
import { formatErrors, loadConfigFile } from '../../config/load.js';
import { type CommandIo, processIo } from './io.js';

interface BackupOptions {
  config?: string;
  db?: string;
  dataDir: string;
}

/** The database a command works on: --db, the config's store.path, or the demo's. */
function databasePath(o: BackupOptions, io: CommandIo): string | undefined {
  if (o.db) return o.db;
  if (o.config) {
    const r = loadConfigFile(o.config, io.env);
    if (!r.ok) {
      io.err(`${o.config}: invalid configuration\n${formatErrors(r.errors)}\n`);
      return undefined;
    }
    return r.config.store.path;
  }
  return join(o.dataDir, 'demo.db');
}

/**
 * `gridkeeper backup <file>`: an online copy of the gateway's SQLite
 * database while the gateway runs (SQLite's backup API, page by page, a
 * consistent snapshot even under writes in WAL mode), then an integrity
 * check of the copy. Copying the file with cp while the gateway runs can
 * miss the WAL's last transactions; this cannot.
 */
export function registerBackupCommand(program: Command, io: CommandIo = processIo): Command {
  return program
    .command('backup')
    .description("Copy the gateway's database while it runs (online backup) and check the copy.")
    .argument('<file>', 'where to write the copy (must not exist)')
    .option('-c, --config <file>', 'site config file (its store.path is backed up)', io.env.GRIDKEEPER_CONFIG)
    .option('--db <path>', 'database file (instead of --config)')
    .option('--data-dir <dir>', "the demo's data directory, used without --config and --db", 'data')
    .action(async (file: string, o: BackupOptions) => {
      const source = databasePath(o, io);
      if (!source) return io.fail(2);
      if (!existsSync(source) || !statSync(source).isFile()) {
        io.err(`no database at ${resolve(source)}: give --config <site.yaml> or --db <file>\n`);
        return io.fail(2);
      }
      if (existsSync(file)) {
        io.err(`${file} exists: give a new file name (a backup never overwrites)\n`);
        return io.fail(2);
      }
      const db = new Database(source, { readonly: true, fileMustExist: true });
      try {
        const t0 = performance.now();
        const result = await db.backup(file);
        const copy = new Database(file, { readonly: true });
        try {
          const check = copy.pragma('integrity_check', { simple: true });
          if (check !== 'ok') {
            io.err(`backup written to ${file} but its integrity check says: ${String(check)}\n`);
            return io.fail(1);
          }
        } finally {
          copy.close();
        }
        const ms = Math.round(performance.now() - t0);
        io.out(
          `backed up ${resolve(source)} to ${resolve(file)} (${result.totalPages} pages, ${ms} ms, integrity ok)\n`,
        );
      } catch (err) {
        io.err(`backup failed: ${(err as Error).message}\n`);
        io.fail(1);
      } finally {
        db.close();
      }
    });
}
