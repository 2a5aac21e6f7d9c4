import { monotonicFactory } from 'ulid';
import type { SessionInfo } from '../../src/model/events.js';
import { evseId } from '../../src/model/site.js';
import type { ChargerRef, LinkContext } from './context.js';
import { mapChargingState, parseMeterValues } from './messages.js';
import type { EvseObserver } from './observer.js';
import type { OcppProtocol } from './rpc/protocol.js';
import type { Payload, V16, V201 } from './types.js';

/** Longest time a running session's energy may lag in the store (the bus always has the latest). */
const ENERGY_PERSIST_MS = 30_000;

type SessionEvent = 'session.started' | 'session.updated' | 'session.stopped';
type Ctx = Pick<LinkContext, 'bus' | 'clock' | 'sessions' | 'outbox' | 'log'>;

/**
 * The charging sessions of one charger: built from its transaction messages
 * (1.6 Start/StopTransaction and meter values, 2.x TransactionEvent), kept in
 * the session store, announced on the bus, and marked pending / synced /
 * failed by what the CMS has of them in the outbox.
 *
 * A session's id is the gateway's own (a ULID), decided when the message that
 * starts it is written to the outbox, so the row and every later message
 * carry it. Transaction ids (the charger's, the CMS's) are attributes that
 * repeat (a restored CMS, a reset charger): they are looked up among the
 * charger's open sessions only, and a start never touches a stopped session.
 */
export class SessionTracker {
  private readonly energyPersistedAt = new Map<string, number>();
  /** Energy of open sessions as last metered (the store may lag by ENERGY_PERSIST_MS). */
  private readonly latestEnergy = new Map<string, number>();
  private readonly nextId: (seedTime?: number) => string = monotonicFactory();
  /** Open sessions this tracker last found synced (`refreshSync`), so a delivery need not ask again. */
  private readonly synced = new Set<string>();

  constructor(
    private readonly charger: ChargerRef,
    private readonly protocol: OcppProtocol,
    private readonly observer: EvseObserver,
    private readonly ctx: Ctx,
  ) {}

  /** A new session id (ULID: sorts by creation time). */
  newId(): string {
    return this.nextId(this.ctx.clock.now());
  }

  /** The open session of this charger with a charger transaction id. */
  open(chargerTxId: string | number): SessionInfo | undefined {
    return this.ctx.sessions.openByTransaction(this.charger.id, String(chargerTxId));
  }

  /**
   * The session a queued message belongs to, decided before it is written:
   * a start gets a new id; a later message the open session with its
   * transaction id (2.x: a new id when the gateway never saw the start).
   */
  sessionRef(action: string, params: Payload): { sessionId?: string } {
    if (this.protocol === 'ocpp1.6') {
      if (action === 'StartTransaction') return { sessionId: this.newId() };
      if ((action === 'StopTransaction' || action === 'MeterValues') && params.transactionId !== undefined) {
        const s = this.open(params.transactionId as number);
        return s ? { sessionId: s.id } : {};
      }
      return {};
    }
    if (action === 'TransactionEvent') {
      const p = params as unknown as V201.TransactionEventRequest;
      const tx = p.transactionInfo?.transactionId;
      if (!tx) return {};
      if (p.eventType === 'Started') return { sessionId: this.newId() };
      return { sessionId: this.open(tx)?.id ?? this.newId() };
    }
    return {};
  }

  /** 1.6 StartTransaction answered (by the CMS or locally): the session exists once the charger's id is known. */
  started16(p: V16.StartTransactionRequest, transactionId: number, fromCms: boolean, sid: string): void {
    if (this.ctx.sessions.get(sid)) return; // a repeated StartTransaction: the session exists
    const startedAt = Date.parse(p.timestamp) || this.ctx.clock.now();
    const txId = String(transactionId);
    // A start answered locally that the CMS took before this session was written (a crash between the two).
    const upstream = fromCms ? transactionId : this.ctx.outbox.upstreamTx(this.charger.id, transactionId);
    this.beforeStart(sid, txId, p.connectorId, startedAt);
    const info: SessionInfo = {
      id: sid,
      evseId: evseId(this.charger.id, p.connectorId),
      chargerId: this.charger.id,
      connectorId: p.connectorId,
      idTag: p.idTag,
      startedAt,
      energyWh: 0,
      meterStartWh: p.meterStart,
      chargerTransactionId: txId,
      ...(upstream !== undefined ? { upstreamTransactionId: String(upstream) } : {}),
      syncState: fromCms ? 'synced' : 'pending',
    };
    this.save(info, 'session.started');
    this.observer.live(p.connectorId, { sessionId: sid, idTag: p.idTag, sessionStart: startedAt, sessionEnergyWh: 0 });
    this.refreshSync(sid);
  }

  stopped16(p: V16.StopTransactionRequest, sid: string | undefined): void {
    const s = sid ? this.ctx.sessions.get(sid) : undefined;
    if (!s || s.stoppedAt !== undefined) return;
    this.save(
      {
        ...s,
        stoppedAt: Date.parse(p.timestamp) || this.ctx.clock.now(),
        energyWh: Math.max(0, p.meterStop - (s.meterStartWh ?? 0)),
        ...(p.reason ? { stopReason: p.reason } : {}),
        syncState: 'pending',
      },
      'session.stopped',
    );
    this.observer.sessionEnded(s.connectorId);
  }

  meterValues(p: V16.MeterValuesRequest | V201.MeterValuesRequest, sid: string | undefined): void {
    const v16 = 'connectorId' in p;
    const conn = v16 ? p.connectorId : p.evseId;
    const m = parseMeterValues(this.protocol, p.meterValue);
    if (conn < 1) return;
    const extra: { sessionEnergyWh?: number } = {};
    if (v16 && sid !== undefined && m.energyWh !== undefined) {
      const s = this.ctx.sessions.get(sid);
      if (s && s.stoppedAt === undefined) {
        extra.sessionEnergyWh = Math.max(0, m.energyWh - (s.meterStartWh ?? m.energyWh));
        this.saveEnergy({ ...s, energyWh: extra.sessionEnergyWh });
      }
    }
    this.observer.meter(conn, m, extra);
  }

  transactionEvent(p: V201.TransactionEventRequest, sid: string): void {
    const now = this.ctx.clock.now();
    const info = p.transactionInfo;
    const existing = this.ctx.sessions.get(sid);
    if (existing?.stoppedAt !== undefined) return; // never touch a stopped session
    const connectorId = p.evse?.id ?? existing?.connectorId ?? 1;
    const m = parseMeterValues(this.protocol, p.meterValue);
    const ts = Date.parse(p.timestamp) || now;
    const tag = p.idToken?.idToken;
    if (!existing) this.beforeStart(sid, info.transactionId, connectorId, ts);
    let s: SessionInfo =
      existing ??
      ({
        id: sid,
        evseId: evseId(this.charger.id, connectorId),
        chargerId: this.charger.id,
        connectorId,
        startedAt: ts,
        energyWh: 0,
        ...(m.energyWh !== undefined ? { meterStartWh: m.energyWh } : {}),
        chargerTransactionId: info.transactionId,
        upstreamTransactionId: info.transactionId,
        syncState: 'pending',
      } satisfies SessionInfo);
    if (tag && !s.idTag) s = { ...s, idTag: tag };
    if (s.meterStartWh === undefined && m.energyWh !== undefined) s = { ...s, meterStartWh: m.energyWh };
    if (m.energyWh !== undefined) s = { ...s, energyWh: Math.max(0, m.energyWh - (s.meterStartWh ?? m.energyWh)) };
    const ended = p.eventType === 'Ended';
    if (ended) s = { ...s, stoppedAt: ts, ...(info.stoppedReason ? { stopReason: info.stoppedReason } : {}) };
    if (existing && !ended && s.idTag === existing.idTag && s.meterStartWh === existing.meterStartWh) {
      // Only the energy moved (a periodic Updated): announced now, stored at the energy pace.
      if (s.energyWh !== existing.energyWh) this.saveEnergy(s);
    } else {
      this.save(s, !existing ? 'session.started' : ended ? 'session.stopped' : 'session.updated');
    }
    const st = mapChargingState(info.chargingState);
    if (ended) {
      this.observer.sessionEnded(connectorId);
    } else {
      this.observer.live(connectorId, {
        sessionId: sid,
        ...(s.idTag ? { idTag: s.idTag } : {}),
        sessionStart: s.startedAt,
        sessionEnergyWh: s.energyWh,
        ...(st ? { status: st } : {}),
      });
    }
    this.observer.meter(connectorId, m);
  }

  /** 1.6: the CMS accepted a start answered locally; later messages carry its transaction id. */
  upstreamAccepted(sid: string, upstreamTxId: number): void {
    const s = this.ctx.sessions.get(sid);
    if (s) {
      this.warnRepeat(sid, String(upstreamTxId));
      this.save({ ...s, upstreamTransactionId: String(upstreamTxId) }, 'session.updated');
    }
    this.refreshSync(sid);
  }

  /** pending while the CMS lacks any of the session's messages, failed if one was parked, else synced. */
  refreshSync(sessionId: string): void {
    const s = this.ctx.sessions.get(sessionId);
    if (!s) return;
    const { pending, poison } = this.ctx.outbox.sessionStatus(sessionId);
    const syncState: SessionInfo['syncState'] = poison > 0 ? 'failed' : pending > 0 ? 'pending' : 'synced';
    if (syncState !== s.syncState) this.save({ ...s, syncState }, 'session.updated');
    // Stopped sessions are not remembered: the set stays as small as the open sessions.
    if (syncState === 'synced' && s.stoppedAt === undefined) this.synced.add(sessionId);
    else this.synced.delete(sessionId);
  }

  /**
   * A message of the session reached the CMS. A delivery can only move the state towards synced, so a running
   * session already synced (MeterValues while the CMS is up, the common case) costs no queries.
   */
  delivered(sessionId: string): void {
    if (!this.synced.has(sessionId)) this.refreshSync(sessionId);
  }

  /**
   * A session is about to start: a session still open on its connector, or
   * open under the same transaction id, ends as `superseded` (the charger
   * has moved on; its stop was lost); a repeated transaction id is logged
   * naming both sessions.
   */
  private beforeStart(sid: string, chargerTxId: string, connectorId: number, at: number): void {
    const { sessions, log } = this.ctx;
    const stale = new Map(sessions.openOnConnector(this.charger.id, connectorId).map((s) => [s.id, s]));
    const sameTx = sessions.openByTransaction(this.charger.id, chargerTxId);
    if (sameTx) stale.set(sameTx.id, sameTx);
    stale.delete(sid);
    for (const old of stale.values()) {
      const energyWh = this.latestEnergy.get(old.id) ?? old.energyWh;
      log.warn(
        { chargerId: this.charger.id, connectorId: old.connectorId, session: old.id, supersededBy: sid },
        'open session superseded by a new start',
      );
      this.save(
        { ...old, energyWh, stoppedAt: Math.max(old.startedAt, at), stopReason: 'superseded' },
        'session.stopped',
      );
    }
    this.warnRepeat(sid, chargerTxId);
  }

  /** A transaction id (the charger's or the CMS's) that an earlier session of this charger had: said once, naming both. */
  private warnRepeat(sid: string, txId: string): void {
    const earlier = this.ctx.sessions.lastByTransaction(this.charger.id, txId, sid);
    if (!earlier) return;
    this.ctx.log.warn(
      { chargerId: this.charger.id, transactionId: txId, session: sid, earlierSession: earlier.id },
      'transaction id seen before: a new session, the earlier one is left as it was',
    );
  }

  /**
   * Energy of a running session: announced on every meter value, written to
   * the store at most every `ENERGY_PERSIST_MS` (the stop writes the final
   * value), so meter values do not cost a disk commit each.
   */
  private saveEnergy(s: SessionInfo): void {
    const now = this.ctx.clock.now();
    this.latestEnergy.set(s.id, s.energyWh);
    const last = this.energyPersistedAt.get(s.id);
    if (last !== undefined && now - last < ENERGY_PERSIST_MS) {
      this.ctx.bus.emit('session.updated', s);
      return;
    }
    this.energyPersistedAt.set(s.id, now);
    this.save(s, 'session.updated');
  }

  private save(s: SessionInfo, event: SessionEvent): void {
    if (s.syncState !== 'synced' || s.stoppedAt !== undefined) this.synced.delete(s.id);
    if (event === 'session.stopped') {
      this.energyPersistedAt.delete(s.id);
      this.latestEnergy.delete(s.id);
    }
    this.ctx.sessions.upsert(s);
    this.ctx.bus.emit(event, s);
  }
}
