import type Database from 'better-sqlite3';
import { monotonicFactory } from 'ulid';
import type { GatewayBus } from '../bus/events.js';
import type { Clock, TimerHandle } from '../model/clock.js';
import { EVSE_STATUSES, type EvseStatus } from '../model/site.js';
import { ChunkedWriter } from '../store/chunked-writes.js';
import type { Db } from '../store/db.js';
import type { EventHub } from './events.js';

export type AlertSeverity = 'critical' | 'warning' | 'info';

export interface Alert {
  /** Unique per occurrence (a ULID): an alert raised again after it cleared is a new alert with a new id. */
  readonly id: string;
  /** e.g. `charger.faulted`, `charger.offline`, `device.offline`, `meter.stale`, `webhook.dead-letter`. */
  readonly kind: string;
  /** What it is about: an EVSE, charger, device or webhook id. */
  readonly subject: string;
  readonly severity: AlertSeverity;
  readonly message: string;
  readonly raisedAt: number;
  readonly clearedAt?: number;
  readonly data?: Readonly<Record<string, unknown>>;
}

/** Statuses that count as "available to drivers" for uptime: all but the out-of-service ones. */
const DOWN_STATUSES: readonly EvseStatus[] = ['Unavailable', 'Faulted', 'Offline'];
const UP_STATUSES: ReadonlySet<EvseStatus> = new Set(EVSE_STATUSES.filter((s) => !DOWN_STATUSES.includes(s)));

export interface FirmwareStatus {
  readonly chargerId: string;
  readonly status: string;
  readonly ts: number;
}

export interface AlertChecks {
  /** Pending webhook events over all subscriptions. */
  backlog?: () => number;
  backlogThreshold?: number;
  /** Dead-lettered events per subscription id. */
  deadLetters?: () => ReadonlyMap<string, number>;
}

/**
 * Maintenance alerts: raised once when a condition starts, cleared once when
 * it ends, each published as `alert.raised` / `alert.cleared` and kept in
 * SQLite. Also records every EVSE status change for uptime figures.
 */
export class AlertService {
  /** Active alerts by `kind:subject` (one at a time per condition). */
  private readonly active = new Map<string, Alert>();
  private readonly newId = monotonicFactory();
  private readonly firmware = new Map<string, FirmwareStatus>();
  private readonly unsubs: Array<() => void> = [];
  private timer?: TimerHandle;
  private readonly statusOf = new Map<string, EvseStatus>();
  private checks: AlertChecks = {};
  /** Statements of the per-message paths, prepared once (a status change of 1000 chargers compiled SQL each time). */
  private readonly sql: Record<'insert' | 'clear', Database.Statement<unknown[]>>;
  /**
   * Status changes, written with the others of the same turn in one transaction: at 1000 chargers a
   * commit each was ~900 commits a minute on the main thread, each holding the write lock the OCPP
   * worker's outbox needs. Reads flush first.
   */
  private readonly statusLog: ChunkedWriter<readonly [evseId: string, ts: number, status: EvseStatus]>;

  constructor(
    private readonly opts: { db: Db; clock: Clock; hub: EventHub; bus: GatewayBus; checkIntervalMs: number },
  ) {
    const logStatus = opts.db.prepare('INSERT INTO evse_status_log (evse_id, ts, status) VALUES (?, ?, ?)');
    this.statusLog = new ChunkedWriter(
      opts.db,
      opts.db.transaction((rows: ReadonlyArray<readonly [string, number, EvseStatus]>) => {
        for (const r of rows) logStatus.run(r[0], r[1], r[2]);
      }),
    );
    this.sql = {
      insert: opts.db.prepare(
        'INSERT OR REPLACE INTO alerts (id, kind, subject, severity, message, raised_at, json) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      clear: opts.db.prepare('UPDATE alerts SET cleared_at = ?, json = ? WHERE id = ?'),
    };
    for (const r of opts.db.prepare('SELECT * FROM alerts WHERE cleared_at IS NULL').all() as Array<{
      json: string;
    }>) {
      const a = JSON.parse(r.json) as Alert;
      this.active.set(`${a.kind}:${a.subject}`, a);
    }
  }

  setChecks(checks: AlertChecks): void {
    this.checks = checks;
  }

  start(): void {
    const { bus } = this.opts;
    this.unsubs.push(
      bus.on('evse.live', ({ id, patch }) => {
        if (patch.status === undefined || this.statusOf.get(id) === patch.status) return;
        this.statusOf.set(id, patch.status);
        this.statusLog.push([id, this.opts.clock.now(), patch.status]);
        if (patch.status === 'Faulted') this.raise('charger.faulted', id, 'critical', `EVSE ${id} reports a fault`);
        else this.clear('charger.faulted', id);
        if (patch.status === 'Offline') this.raise('charger.offline', id, 'warning', `EVSE ${id} is offline`);
        else this.clear('charger.offline', id);
      }),
      bus.on('device', (d) => {
        if (!d.online) {
          this.raise(
            'device.offline',
            d.id,
            d.kind === 'meter' ? 'critical' : 'warning',
            `${d.kind} ${d.id} is offline`,
            {
              error: d.error ?? null,
            },
          );
        } else this.clear('device.offline', d.id);
      }),
      bus.on('grid.limit', (g) => {
        if (g.met === false) this.raise('grid.limit.unmet', 'grid', 'critical', `grid limit ${g.why ?? 'not met'}`);
        else this.clear('grid.limit.unmet', 'grid');
      }),
      bus.on('failsafe', (f) => {
        if (f.active)
          this.raise('meter.stale', 'grid', 'critical', `grid meter stale: failsafe limit applies (${f.reason})`);
        else this.clear('meter.stale', 'grid');
      }),
    );
    this.timer = this.opts.clock.setInterval(() => this.runChecks(), this.opts.checkIntervalMs);
  }

  stop(): void {
    for (const u of this.unsubs.splice(0)) u();
    this.opts.clock.clearInterval(this.timer);
    this.statusLog.flush();
  }

  /** OCPP StatusNotification errorCode other than NoError (called by the proxy). */
  reportChargerError(chargerId: string, connectorId: number, errorCode: string, info?: string): void {
    const subject = `${chargerId}/${connectorId}`;
    if (errorCode === 'NoError') this.clear('charger.error', subject);
    else
      this.raise('charger.error', subject, 'critical', `${subject}: ${errorCode}${info ? ` (${info})` : ''}`, {
        errorCode,
        info: info ?? null,
      });
  }

  /** OCPP FirmwareStatusNotification (called by the proxy). */
  reportFirmwareStatus(chargerId: string, status: string): void {
    this.firmware.set(chargerId, { chargerId, status, ts: this.opts.clock.now() });
    if (/Failed$/.test(status)) this.raise('firmware.failed', chargerId, 'warning', `${chargerId}: firmware ${status}`);
    else if (status === 'Installed' || status === 'Idle') this.clear('firmware.failed', chargerId);
  }

  firmwareStatus(): FirmwareStatus[] {
    return [...this.firmware.values()];
  }

  raise(
    kind: string,
    subject: string,
    severity: AlertSeverity,
    message: string,
    data?: Readonly<Record<string, unknown>>,
  ): Alert | undefined {
    const key = `${kind}:${subject}`;
    if (this.active.has(key)) return undefined;
    const raisedAt = this.opts.clock.now();
    const a: Alert = {
      id: this.newId(raisedAt),
      kind,
      subject,
      severity,
      message,
      raisedAt,
      ...(data ? { data } : {}),
    };
    this.active.set(key, a);
    // One row per occurrence, under the alert's own id.
    this.sql.insert.run(a.id, kind, subject, severity, message, a.raisedAt, JSON.stringify(a));
    this.opts.hub.publish('alert.raised', { ...a });
    return a;
  }

  clear(kind: string, subject: string): boolean {
    const key = `${kind}:${subject}`;
    const a = this.active.get(key);
    if (!a) return false;
    this.active.delete(key);
    const clearedAt = this.opts.clock.now();
    const cleared: Alert = { ...a, clearedAt };
    // Alerts raised before ids were ULIDs have the row id `kind:subject@raisedAt`.
    const rowId = a.id === key ? `${key}@${a.raisedAt}` : a.id;
    this.sql.clear.run(clearedAt, JSON.stringify(cleared), rowId);
    this.opts.hub.publish('alert.cleared', { ...cleared });
    return true;
  }

  list(q: { active?: boolean; from?: number; to?: number; limit?: number } = {}): Alert[] {
    if (q.active) return [...this.active.values()].sort((a, b) => b.raisedAt - a.raisedAt);
    const rows = this.opts.db
      .prepare('SELECT json FROM alerts WHERE raised_at >= ? AND raised_at < ? ORDER BY raised_at DESC LIMIT ?')
      .all(q.from ?? 0, q.to ?? Number.MAX_SAFE_INTEGER, q.limit ?? 200) as Array<{ json: string }>;
    return rows.map((r) => JSON.parse(r.json) as Alert);
  }

  /**
   * Share of time an EVSE was usable in [from, to), from its status log.
   * Time before the first known status is left out, not counted as down.
   */
  uptime(evseId: string, from: number, to: number): { uptimePct: number | null; knownMs: number; upMs: number } {
    this.statusLog.flush();
    const before = this.opts.db
      .prepare('SELECT ts, status FROM evse_status_log WHERE evse_id = ? AND ts < ? ORDER BY ts DESC LIMIT 1')
      .get(evseId, from) as { ts: number; status: EvseStatus } | undefined;
    const rows = this.opts.db
      .prepare('SELECT ts, status FROM evse_status_log WHERE evse_id = ? AND ts >= ? AND ts < ? ORDER BY ts')
      .all(evseId, from, to) as Array<{ ts: number; status: EvseStatus }>;
    const points = before ? [{ ts: from, status: before.status }, ...rows] : rows;
    let known = 0;
    let up = 0;
    for (let i = 0; i < points.length; i++) {
      const p = points[i]!;
      const end = points[i + 1]?.ts ?? to;
      const d = Math.max(0, end - p.ts);
      known += d;
      if (UP_STATUSES.has(p.status)) up += d;
    }
    return { uptimePct: known > 0 ? Math.round((up / known) * 10_000) / 100 : null, knownMs: known, upMs: up };
  }

  evseIds(): string[] {
    this.statusLog.flush();
    return (
      this.opts.db.prepare('SELECT DISTINCT evse_id FROM evse_status_log ORDER BY evse_id').all() as Array<{
        evse_id: string;
      }>
    ).map((r) => r.evse_id);
  }

  private runChecks(): void {
    const { backlog, backlogThreshold, deadLetters } = this.checks;
    if (backlog && backlogThreshold !== undefined) {
      const n = backlog();
      if (n > backlogThreshold)
        this.raise('webhook.backlog', 'outbox', 'warning', `${n} webhook events waiting for delivery`, { pending: n });
      else this.clear('webhook.backlog', 'outbox');
    }
    if (deadLetters) {
      const dead = deadLetters();
      for (const [sub, n] of dead) {
        if (n > 0)
          this.raise('webhook.dead-letter', sub, 'warning', `webhook ${sub} has ${n} dead-lettered events`, {
            dead: n,
          });
        else this.clear('webhook.dead-letter', sub);
      }
    }
  }
}
