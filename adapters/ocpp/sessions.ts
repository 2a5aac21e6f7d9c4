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
type Ctx = Pick<LinkContext, 'bus' | 'clock' | 'sessions' | 'outbox'>;

/**
 * The charging sessions of one charger: built from its transaction messages
 * (1.6 Start/StopTransaction and meter values, 2.x TransactionEvent), kept in
 * the session store, announced on the bus, and marked pending / synced /
 * failed by what the CMS has of them in the outbox. Session id:
 * `<chargerId>-<transaction id as the charger knows it>`.
 */
export class SessionTracker {
  private readonly energyPersistedAt = new Map<string, number>();

  constructor(
    private readonly charger: ChargerRef,
    private readonly protocol: OcppProtocol,
    private readonly observer: EvseObserver,
    private readonly ctx: Ctx,
  ) {}

  sessionId(chargerTxId: string | number): string {
    return `${this.charger.id}-${chargerTxId}`;
  }

  /** The session a queued message belongs to (stored with its outbox row). */
  sessionRef(action: string, params: Payload): { sessionId?: string } {
    if (this.protocol === 'ocpp1.6') {
      if ((action === 'StopTransaction' || action === 'MeterValues') && params.transactionId !== undefined) {
        return { sessionId: this.sessionId(params.transactionId as number) };
      }
      return {};
    }
    if (action === 'TransactionEvent') {
      const tx = (params as unknown as V201.TransactionEventRequest).transactionInfo?.transactionId;
      if (tx) return { sessionId: this.sessionId(tx) };
    }
    return {};
  }

  /** 1.6 StartTransaction answered: the session exists once the charger's transaction id is known. */
  started16(p: V16.StartTransactionRequest, transactionId: number, fromCms: boolean, seq: number | undefined): void {
    const sid = this.sessionId(transactionId);
    if (fromCms && seq !== undefined) this.ctx.outbox.setSession(seq, sid);
    if (this.ctx.sessions.get(sid)) return; // a repeated StartTransaction: the session exists
    const startedAt = Date.parse(p.timestamp) || this.ctx.clock.now();
    const info: SessionInfo = {
      id: sid,
      evseId: evseId(this.charger.id, p.connectorId),
      chargerId: this.charger.id,
      connectorId: p.connectorId,
      idTag: p.idTag,
      startedAt,
      energyWh: 0,
      meterStartWh: p.meterStart,
      ...(fromCms ? { upstreamTransactionId: String(transactionId) } : {}),
      syncState: fromCms ? 'synced' : 'pending',
    };
    this.save(info, 'session.started');
    this.observer.live(p.connectorId, { sessionId: sid, idTag: p.idTag, sessionStart: startedAt, sessionEnergyWh: 0 });
    this.refreshSync(sid);
  }

  stopped16(p: V16.StopTransactionRequest): void {
    const s = this.ctx.sessions.get(this.sessionId(p.transactionId));
    if (!s) return;
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

  meterValues(p: V16.MeterValuesRequest | V201.MeterValuesRequest): void {
    const v16 = 'connectorId' in p;
    const conn = v16 ? p.connectorId : p.evseId;
    const m = parseMeterValues(this.protocol, p.meterValue);
    if (conn < 1) return;
    const extra: { sessionEnergyWh?: number } = {};
    if (v16 && p.transactionId !== undefined && m.energyWh !== undefined) {
      const s = this.ctx.sessions.get(this.sessionId(p.transactionId));
      if (s && s.stoppedAt === undefined) {
        extra.sessionEnergyWh = Math.max(0, m.energyWh - (s.meterStartWh ?? m.energyWh));
        this.saveEnergy({ ...s, energyWh: extra.sessionEnergyWh });
      }
    }
    this.observer.meter(conn, m, extra);
  }

  transactionEvent(p: V201.TransactionEventRequest): void {
    const now = this.ctx.clock.now();
    const info = p.transactionInfo;
    const sid = this.sessionId(info.transactionId);
    const existing = this.ctx.sessions.get(sid);
    const connectorId = p.evse?.id ?? existing?.connectorId ?? 1;
    const m = parseMeterValues(this.protocol, p.meterValue);
    const ts = Date.parse(p.timestamp) || now;
    const tag = p.idToken?.idToken;
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

  /** A queued message went to the CMS live (no outbox row): only a session it marked pending can change. */
  forwardedLive(action: string, params: Payload): void {
    if (action === 'MeterValues') return;
    const ref = this.sessionRef(action, params).sessionId;
    if (ref && this.ctx.sessions.get(ref)?.syncState !== 'synced') this.refreshSync(ref);
  }

  /** 1.6: the CMS accepted a start answered locally; later messages carry its transaction id. */
  upstreamAccepted(localTxId: number, upstreamTxId: number): void {
    const sid = this.sessionId(localTxId);
    const s = this.ctx.sessions.get(sid);
    if (s) this.save({ ...s, upstreamTransactionId: String(upstreamTxId) }, 'session.updated');
    this.refreshSync(sid);
  }

  /** pending while the CMS lacks any of the session's messages, failed if one was parked, else synced. */
  refreshSync(sessionId: string): void {
    const s = this.ctx.sessions.get(sessionId);
    if (!s) return;
    const { pending, poison } = this.ctx.outbox.sessionStatus(sessionId);
    const syncState: SessionInfo['syncState'] = poison > 0 ? 'failed' : pending > 0 ? 'pending' : 'synced';
    if (syncState !== s.syncState) this.save({ ...s, syncState }, 'session.updated');
  }

  /**
   * Energy of a running session: announced on every meter value, written to
   * the store at most every `ENERGY_PERSIST_MS` (the stop writes the final
   * value), so meter values do not cost a disk commit each.
   */
  private saveEnergy(s: SessionInfo): void {
    const now = this.ctx.clock.now();
    const last = this.energyPersistedAt.get(s.id);
    if (last !== undefined && now - last < ENERGY_PERSIST_MS) {
      this.ctx.bus.emit('session.updated', s);
      return;
    }
    this.energyPersistedAt.set(s.id, now);
    this.save(s, 'session.updated');
  }

  private save(s: SessionInfo, event: SessionEvent): void {
    if (event === 'session.stopped') this.energyPersistedAt.delete(s.id);
    this.ctx.sessions.upsert(s);
    this.ctx.bus.emit(event, s);
  }
}
