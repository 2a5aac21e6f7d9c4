import type { Db } from '../store/db.js';

export interface AuditEntry {
  readonly seq: number;
  readonly ts: number;
  readonly principalId: string;
  readonly principalName: string;
  readonly command: string;
  readonly method: string;
  readonly path: string;
  readonly params: unknown;
  readonly status: number;
  readonly result: string;
}

const SECRET_KEYS = new Set(['secret', 'key', 'password', 'token', 'apiKey']);

/** Copy of a request body fit for the audit log: secrets replaced. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.has(k) ? '[redacted]' : redact(v);
    return out;
  }
  return value;
}

/** The columns of an entry, named as its fields (`params` still as JSON text). */
const COLUMNS =
  'seq, ts, principal_id AS principalId, principal_name AS principalName, command, method, path, params_json AS params, status, result';

/** Who did what, when, with what result: every command that reaches the API. */
export class CommandAudit {
  private readonly insert;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      `INSERT INTO command_audit (ts, principal_id, principal_name, command, method, path, params_json, status, result)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  record(e: Omit<AuditEntry, 'seq'>): void {
    this.insert.run(
      e.ts,
      e.principalId,
      e.principalName,
      e.command,
      e.method,
      e.path,
      JSON.stringify(redact(e.params) ?? null),
      e.status,
      e.result,
    );
  }

  list(q: { limit?: number; offset?: number; from?: number; to?: number } = {}): AuditEntry[] {
    const rows = this.db
      .prepare(
        `SELECT ${COLUMNS} FROM command_audit WHERE ts >= @from AND ts < @to ORDER BY seq DESC LIMIT @limit OFFSET @offset`,
      )
      .all({
        from: q.from ?? 0,
        to: q.to ?? Number.MAX_SAFE_INTEGER,
        limit: q.limit ?? 100,
        offset: q.offset ?? 0,
      }) as Array<AuditEntry & { params: string }>;
    return rows.map((r) => ({ ...r, params: JSON.parse(r.params) as unknown }));
  }
}
