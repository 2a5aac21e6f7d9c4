import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { KeyVerifier, Principal, Scope } from '../api/auth.js';
import type { ApiKeyConfig } from '../config/sections/api.js';
import type { Clock } from '../model/clock.js';
import type { Db } from '../store/db.js';

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** A new random key: `gk_` + 32 bytes base64url (the prefix makes leaked keys greppable). */
export function generateKey(): string {
  return `gk_${randomBytes(32).toString('base64url')}`;
}

export interface ApiKeyInfo {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  /** First characters of the key, to recognise it; never the key itself. */
  readonly prefix: string;
  readonly createdAt: number;
  readonly revokedAt?: number;
  readonly source: 'store' | 'config' | 'env';
}

interface KeyRow {
  id: string;
  name: string;
  scopes: string;
  sha256: string;
  prefix: string;
  created_at: number;
  revoked_at: number | null;
}

/**
 * API keys: stored as SHA-256 hashes in SQLite (keys are 256-bit random, so
 * a fast hash is enough), plus keys from the config file and an admin key
 * from `GRIDKEEPER_ADMIN_KEY`. Lookups hit the database every time, so a key
 * created with the CLI or revoked through the API takes effect at once.
 */
export class KeyStore implements KeyVerifier {
  private readonly fixed = new Map<string, Principal>();
  private readonly fixedInfo: ApiKeyInfo[] = [];
  private readonly byHash;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    opts: { config?: readonly ApiKeyConfig[]; adminKey?: string } = {},
  ) {
    this.byHash = db.prepare('SELECT * FROM api_keys WHERE sha256 = ? AND revoked_at IS NULL');
    (opts.config ?? []).forEach((k, i) => {
      const hash = k.sha256 ?? sha256Hex(k.key ?? '');
      const id = `config-${i}`;
      this.fixed.set(hash, { id, name: k.name, scopes: k.scopes });
      this.fixedInfo.push({ id, name: k.name, scopes: k.scopes, prefix: '', createdAt: 0, source: 'config' });
    });
    if (opts.adminKey) {
      this.fixed.set(sha256Hex(opts.adminKey), { id: 'env-admin', name: 'GRIDKEEPER_ADMIN_KEY', scopes: ['admin'] });
      this.fixedInfo.push({
        id: 'env-admin',
        name: 'GRIDKEEPER_ADMIN_KEY',
        scopes: ['admin'],
        prefix: opts.adminKey.slice(0, 6),
        createdAt: 0,
        source: 'env',
      });
    }
  }

  verify(key: string): Principal | undefined {
    const hash = sha256Hex(key);
    const fixed = this.fixed.get(hash);
    if (fixed) return fixed;
    const row = this.byHash.get(hash) as KeyRow | undefined;
    return row ? { id: row.id, name: row.name, scopes: row.scopes.split(',') as Scope[] } : undefined;
  }

  create(name: string, scopes: readonly Scope[]): { info: ApiKeyInfo; key: string } {
    const key = generateKey();
    const id = `key_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    const createdAt = this.clock.now();
    const prefix = key.slice(0, 10);
    this.db
      .prepare('INSERT INTO api_keys (id, name, scopes, sha256, prefix, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(id, name, [...new Set(scopes)].join(','), sha256Hex(key), prefix, createdAt);
    return { info: { id, name, scopes, prefix, createdAt, source: 'store' }, key };
  }

  /** Revoke a stored key; false when unknown or already revoked. Config and env keys cannot be revoked here. */
  revoke(id: string): boolean {
    return (
      this.db
        .prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
        .run(this.clock.now(), id).changes > 0
    );
  }

  list(includeRevoked = false): ApiKeyInfo[] {
    const rows = this.db
      .prepare(`SELECT * FROM api_keys ${includeRevoked ? '' : 'WHERE revoked_at IS NULL'} ORDER BY created_at, id`)
      .all() as KeyRow[];
    return [
      ...this.fixedInfo,
      ...rows.map((r) => ({
        id: r.id,
        name: r.name,
        scopes: r.scopes.split(',') as Scope[],
        prefix: r.prefix,
        createdAt: r.created_at,
        ...(r.revoked_at !== null ? { revokedAt: r.revoked_at } : {}),
        source: 'store' as const,
      })),
    ];
  }
}
