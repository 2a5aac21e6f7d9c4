import type { SessionInfo } from '../model/events.js';

/**
 * The charging-session store as a protocol adapter sees it: read one
 * session, write one. The SQLite SessionStore in src/store implements it;
 * the OCPP proxy keeps sessions of its chargers through it.
 */
export interface SessionStorePort {
  get(id: string): SessionInfo | undefined;
  upsert(session: SessionInfo): void;
}
