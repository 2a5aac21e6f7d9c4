import type { Clock, TimerHandle } from '../model/clock.js';
import type { Db } from '../store/db.js';

export interface SiteLimitOverride {
  readonly limitW: number;
  /** Epoch ms the override ends. */
  readonly until: number;
  readonly reason: string;
  readonly setBy: string;
  readonly setAt: number;
}

/**
 * A temporary site import limit set by an operator through the API. It can
 * only be bound as a limit (most-restrictive-wins), so it tightens the site
 * and never lifts a safety limit. Persisted so a restart does not forget it.
 */
export class SiteOverrideStore {
  private current?: SiteLimitOverride;
  private expiryTimer?: TimerHandle;
  private readonly listeners = new Set<(o: SiteLimitOverride | undefined) => void>();

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {
    const row = db.prepare('SELECT * FROM site_override WHERE id = 1').get() as
      | { limit_w: number; until: number; reason: string; set_by: string; set_at: number }
      | undefined;
    if (row && row.until > clock.now()) {
      this.current = {
        limitW: row.limit_w,
        until: row.until,
        reason: row.reason,
        setBy: row.set_by,
        setAt: row.set_at,
      };
    }
  }

  /** The override in force at `now`, if any: bind this as a policy input. */
  active(now = this.clock.now()): SiteLimitOverride | undefined {
    return this.current && this.current.until > now ? this.current : undefined;
  }

  set(o: Omit<SiteLimitOverride, 'setAt'>): SiteLimitOverride {
    const v: SiteLimitOverride = { ...o, setAt: this.clock.now() };
    this.current = v;
    this.db
      .prepare(
        `INSERT INTO site_override (id, limit_w, until, reason, set_by, set_at) VALUES (1, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET limit_w = excluded.limit_w, until = excluded.until, reason = excluded.reason,
         set_by = excluded.set_by, set_at = excluded.set_at`,
      )
      .run(v.limitW, v.until, v.reason, v.setBy, v.setAt);
    this.armExpiry();
    this.emit();
    return v;
  }

  clear(): boolean {
    const had = this.active() !== undefined;
    this.current = undefined;
    this.db.prepare('DELETE FROM site_override').run();
    this.clock.clearTimeout(this.expiryTimer);
    if (had) this.emit();
    return had;
  }

  onChange(l: (o: SiteLimitOverride | undefined) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  start(): void {
    this.armExpiry();
  }

  stop(): void {
    this.clock.clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
  }

  private armExpiry(): void {
    this.clock.clearTimeout(this.expiryTimer);
    const c = this.current;
    if (!c) return;
    this.expiryTimer = this.clock.setTimeout(
      () => {
        if (this.current === c) {
          this.current = undefined;
          this.db.prepare('DELETE FROM site_override').run();
          this.emit();
        }
      },
      Math.max(0, c.until - this.clock.now()),
    );
  }

  private emit(): void {
    const a = this.active();
    for (const l of this.listeners) l(a);
  }
}
