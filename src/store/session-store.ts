import type { SessionInfo } from '../bus/events.js';
import type { SessionStorePort } from '../ports/sessions.js';
import type { Db } from './db.js';

interface SessionRow {
  id: string;
  evse_id: string;
  charger_id: string;
  connector_id: number;
  id_tag: string | null;
  started_at: number;
  stopped_at: number | null;
  meter_start_wh: number | null;
  energy_wh: number;
  upstream_tx_id: string | null;
  charger_tx_id: string | null;
  sync_state: SessionInfo['syncState'];
  stop_reason: string | null;
}

function fromRow(r: SessionRow): SessionInfo {
  return {
    id: r.id,
    evseId: r.evse_id,
    chargerId: r.charger_id,
    connectorId: r.connector_id,
    ...(r.id_tag !== null ? { idTag: r.id_tag } : {}),
    startedAt: r.started_at,
    ...(r.stopped_at !== null ? { stoppedAt: r.stopped_at } : {}),
    ...(r.meter_start_wh !== null ? { meterStartWh: r.meter_start_wh } : {}),
    energyWh: r.energy_wh,
    ...(r.upstream_tx_id !== null ? { upstreamTransactionId: r.upstream_tx_id } : {}),
    ...(r.charger_tx_id !== null ? { chargerTransactionId: r.charger_tx_id } : {}),
    syncState: r.sync_state,
    ...(r.stop_reason !== null ? { stopReason: r.stop_reason } : {}),
  };
}

export interface SessionQuery {
  readonly chargerId?: string;
  readonly idTag?: string;
  readonly from?: number;
  readonly to?: number;
  readonly limit?: number;
  readonly offset?: number;
}

/** The WHERE condition of each filter of a query, in the order they are joined. */
const FILTERS: ReadonlyArray<readonly [keyof SessionQuery, string]> = [
  ['chargerId', 'charger_id = @chargerId'],
  ['idTag', 'id_tag = @idTag'],
  ['from', 'started_at >= @from'],
  ['to', 'started_at < @to'],
];

/** The statements a session store runs, prepared once per database. */
function sessionQueries(db: Db) {
  const open = 'SELECT * FROM sessions WHERE charger_id = ? AND stopped_at IS NULL';
  return {
    upsert: db.prepare(`
      INSERT INTO sessions (id, evse_id, charger_id, connector_id, id_tag, started_at, stopped_at, meter_start_wh,
                            energy_wh, upstream_tx_id, charger_tx_id, sync_state, stop_reason)
      VALUES (@id, @evseId, @chargerId, @connectorId, @idTag, @startedAt, @stoppedAt, @meterStartWh,
              @energyWh, @upstreamTransactionId, @chargerTransactionId, @syncState, @stopReason)
      ON CONFLICT(id) DO UPDATE SET
        id_tag = excluded.id_tag, stopped_at = excluded.stopped_at, meter_start_wh = excluded.meter_start_wh,
        energy_wh = excluded.energy_wh, upstream_tx_id = excluded.upstream_tx_id,
        charger_tx_id = excluded.charger_tx_id, sync_state = excluded.sync_state, stop_reason = excluded.stop_reason`),
    get: db.prepare('SELECT * FROM sessions WHERE id = ?'),
    legacy: db.prepare('SELECT * FROM sessions WHERE legacy_id = ?'),
    openByTx: db.prepare(`${open} AND charger_tx_id = ? ORDER BY started_at DESC, id DESC LIMIT 1`),
    openByUpstream: db.prepare(`${open} AND upstream_tx_id = ? ORDER BY started_at DESC, id DESC LIMIT 1`),
    openOnConnector: db.prepare(`${open} AND connector_id = ? ORDER BY started_at, id`),
    lastByTx: db.prepare(
      `SELECT * FROM sessions WHERE charger_id = @c AND (charger_tx_id = @tx OR upstream_tx_id = @tx) AND id <> @id
        ORDER BY started_at DESC, id DESC LIMIT 1`,
    ),
  };
}

/**
 * Durable record of charging sessions, keyed by the gateway's own session id.
 * The charger's and the CMS's transaction ids are attributes; lookups by
 * them see a charger's open sessions only (ids repeat across sessions).
 */
export class SessionStore implements SessionStorePort {
  private readonly q: ReturnType<typeof sessionQueries>;

  constructor(private readonly db: Db) {
    this.q = sessionQueries(db);
  }

  upsert(s: SessionInfo): void {
    this.q.upsert.run({
      id: s.id,
      evseId: s.evseId,
      chargerId: s.chargerId,
      connectorId: s.connectorId,
      idTag: s.idTag ?? null,
      startedAt: s.startedAt,
      stoppedAt: s.stoppedAt ?? null,
      meterStartWh: s.meterStartWh ?? null,
      energyWh: s.energyWh,
      upstreamTransactionId: s.upstreamTransactionId ?? null,
      chargerTransactionId: s.chargerTransactionId ?? null,
      syncState: s.syncState,
      stopReason: s.stopReason ?? null,
    });
  }

  /** A session by its id; a partner holding an id from before `core-004` (`<charger>-<tx>`) still finds it. */
  get(id: string): SessionInfo | undefined {
    const row = (this.q.get.get(id) ?? this.q.legacy.get(id)) as SessionRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** The open session of a charger with this charger transaction id. */
  openByTransaction(chargerId: string, chargerTxId: string): SessionInfo | undefined {
    const row = this.q.openByTx.get(chargerId, chargerTxId) as SessionRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** The open session of a charger the CMS knows under this transaction id. */
  openByUpstream(chargerId: string, upstreamTxId: string): SessionInfo | undefined {
    const row = this.q.openByUpstream.get(chargerId, upstreamTxId) as SessionRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** Open sessions of one connector (normally none or one), oldest first. */
  openOnConnector(chargerId: string, connectorId: number): SessionInfo[] {
    return (this.q.openOnConnector.all(chargerId, connectorId) as SessionRow[]).map(fromRow);
  }

  /** The latest other session of a charger known under this transaction id (charger's or CMS's; open or stopped). */
  lastByTransaction(chargerId: string, txId: string, exceptId: string): SessionInfo | undefined {
    const row = this.q.lastByTx.get({ c: chargerId, tx: txId, id: exceptId }) as SessionRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  list(q: SessionQuery = {}): SessionInfo[] {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    for (const [key, cond] of FILTERS) {
      if (q[key] === undefined) continue;
      where.push(cond);
      params[key] = q[key];
    }
    params.limit = q.limit ?? 100;
    params.offset = q.offset ?? 0;
    const sql = `SELECT * FROM sessions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
                 ORDER BY started_at DESC, id LIMIT @limit OFFSET @offset`;
    return (this.db.prepare(sql).all(params) as SessionRow[]).map(fromRow);
  }

  /** Sessions without a stop, e.g. to restore state after a restart. */
  open(): SessionInfo[] {
    return (this.db.prepare('SELECT * FROM sessions WHERE stopped_at IS NULL').all() as SessionRow[]).map(fromRow);
  }
}
