import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { SCOPES, type Scope } from '../../api/auth.js';
import { formatErrors, loadConfigFile } from '../../config/load.js';
import { KeyStore } from '../../integration/keys.js';
import { INTEGRATION_MIGRATIONS } from '../../integration/migrations.js';
import { SystemClock } from '../../model/clock.js';
import { openDatabase } from '../../store/db.js';
import { type CommandIo, processIo } from './io.js';

export type KeysCommandIo = CommandIo;

interface StoreOptions {
  config?: string;
  db?: string;
  dataDir: string;
}

function parseScopes(value: string): Scope[] {
  const scopes = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (scopes.length === 0 || bad.length > 0) {
    throw new InvalidArgumentError(`scopes must be a comma-separated list of ${SCOPES.join(', ')}`);
  }
  return scopes as Scope[];
}

/**
 * `gridkeeper keys create|list|revoke`: manage API keys in the gateway's
 * database. Works while the gateway runs (SQLite WAL); a new key is usable
 * at once because the API looks keys up on every request.
 */
export function registerKeysCommand(program: Command, io: KeysCommandIo = processIo): Command {
  const keys = new Command('keys').description('Manage API keys (stored hashed in the gateway database).');
  const withStore = (cmd: Command) =>
    cmd
      .option('-c, --config <file>', 'site config file (its store.path is used)', io.env.GRIDKEEPER_CONFIG)
      .option('--db <path>', 'database file (instead of --config)')
      .option('--data-dir <dir>', "the demo's data directory, used without --config and --db", 'data');

  const open = (o: StoreOptions) => {
    let path = o.db;
    if (!path && !o.config) {
      // Without a site, the keys are the demo's (npm start), as the README shows.
      const demoDb = join(o.dataDir, 'demo.db');
      if (!existsSync(demoDb)) {
        io.err(
          `no database: give --config <site.yaml> or --db <file> (the demo's ${demoDb} does not exist yet: start the demo with npm start first)\n`,
        );
        io.fail(2);
        return undefined;
      }
      io.err(`using the demo's database ${demoDb} (give --config or --db for a site)\n`);
      path = demoDb;
    }
    if (!path) {
      if (!o.config) return undefined;
      const r = loadConfigFile(o.config, io.env);
      if (!r.ok) {
        io.err(`${formatErrors(r.errors)}\n`);
        io.fail(2);
        return undefined;
      }
      path = r.config.store.path;
    }
    const db = openDatabase({ path, migrations: INTEGRATION_MIGRATIONS });
    return { db, store: new KeyStore(db, new SystemClock()) };
  };

  withStore(
    keys
      .command('create')
      .description('Create a key; it is printed once and only its hash is stored.')
      .requiredOption('--name <name>', 'who the key is for (shown in the audit log)')
      .requiredOption('--scopes <list>', `comma-separated: ${SCOPES.join(',')}`, parseScopes),
  ).action((o: StoreOptions & { name: string; scopes: Scope[] }) => {
    const s = open(o);
    if (!s) return;
    try {
      const { info, key } = s.store.create(o.name, o.scopes);
      io.out(`id:     ${info.id}\nname:   ${info.name}\nscopes: ${info.scopes.join(',')}\nkey:    ${key}\n`);
      io.err('Store the key now: it cannot be shown again. Use it as "Authorization: Bearer <key>".\n');
    } finally {
      s.db.close();
    }
  });

  withStore(keys.command('list').description('List stored keys (never the keys themselves).')).action(
    (o: StoreOptions) => {
      const s = open(o);
      if (!s) return;
      try {
        for (const k of s.store.list(true).filter((x) => x.source === 'store')) {
          const state = k.revokedAt ? `revoked ${new Date(k.revokedAt).toISOString()}` : 'active';
          io.out(`${k.id}  ${k.name}  ${k.scopes.join(',')}  ${k.prefix}…  ${state}\n`);
        }
      } finally {
        s.db.close();
      }
    },
  );

  withStore(keys.command('revoke').description('Revoke a key at once.').argument('<id>', 'key id')).action(
    (id: string, o: StoreOptions) => {
      const s = open(o);
      if (!s) return;
      try {
        if (s.store.revoke(id)) io.out(`revoked ${id}\n`);
        else {
          io.err(`no active key ${id}\n`);
          io.fail(1);
        }
      } finally {
        s.db.close();
      }
    },
  );
  program.addCommand(keys);
  return keys;
}
