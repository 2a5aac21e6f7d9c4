import type { SessionInfo } from '../model/events.js';

/**
 * The charging-session store as a protocol adapter sees it: read one
 * session, write one, find a charger's open session by a transaction id.
 * `id` is the gateway's own session id; transaction ids are attributes and
 * repeat (a restored CMS, a reset charger), so lookups by them see open
 * sessions only. The SQLite SessionStore in src/store implements it; the
 * OCPP proxy keeps sessions of its chargers through it.
 */
export interface SessionStorePort {
  get(id: string): SessionInfo | undefined;
  upsert(session: SessionInfo): void;
  /** The open session of a charger with this transaction id as the charger knows it. */
  openByTransaction(chargerId: string, chargerTxId: string): SessionInfo | undefined;
  /** The open session of a charger the CMS knows under this transaction id. */
  openByUpstream(chargerId: string, upstreamTxId: string): SessionInfo | undefined;
  /** Open sessions of one connector, oldest first. */
  openOnConnector(chargerId: string, connectorId: number): SessionInfo[];
  /** The latest other session of a charger known under this transaction id, the charger's or the CMS's (for the repeat warning). */
  lastByTransaction(chargerId: string, txId: string, exceptId: string): SessionInfo | undefined;
}
