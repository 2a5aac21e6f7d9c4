import type { Db } from '../../src/ports/store.js';

/** Per-charger state the proxy keeps across restarts beside the outbox, in the same database. */
export class ChargerCaches {
  private readonly authGetStmt;
  private readonly authPutStmt;
  private readonly cmsCapStmt;

  constructor(protected readonly db: Db) {
    this.authGetStmt = db.prepare('SELECT status FROM ocpp_auth_cache WHERE id_tag = ?');
    this.authPutStmt = db.prepare(
      'INSERT OR REPLACE INTO ocpp_auth_cache (id_tag, status, updated_at) VALUES (?, ?, ?)',
    );
    this.cmsCapStmt = db.prepare('SELECT cap_a, payload FROM ocpp_cms_caps WHERE charger_id = ?');
  }

  /** The CMS's own max profile for a charger (merged into the gateway's), kept across restarts. */
  cmsCap(chargerId: string): { capA: number; payload: Record<string, unknown> } | undefined {
    const r = this.cmsCapStmt.get(chargerId) as { cap_a: number; payload: string } | undefined;
    return r ? { capA: r.cap_a, payload: JSON.parse(r.payload) as Record<string, unknown> } : undefined;
  }

  setCmsCap(chargerId: string, cap: { capA: number; payload: unknown } | undefined, now: number): void {
    if (!cap) {
      this.db.prepare('DELETE FROM ocpp_cms_caps WHERE charger_id = ?').run(chargerId);
      return;
    }
    this.db
      .prepare('INSERT OR REPLACE INTO ocpp_cms_caps (charger_id, cap_a, payload, updated_at) VALUES (?, ?, ?, ?)')
      .run(chargerId, cap.capA, JSON.stringify(cap.payload), now);
  }

  authStatus(idTag: string): string | undefined {
    return (this.authGetStmt.get(idTag) as { status: string } | undefined)?.status;
  }

  cacheAuth(idTag: string, status: string, now: number): void {
    this.authPutStmt.run(idTag, status, now);
  }
}
