import { randomUUID } from 'node:crypto';
import { RPCClient, createRPCError } from 'ocpp-rpc';
import type { GatewayBus, SessionInfo } from '../../src/bus/events.js';
import type { ChargerConfig } from '../../src/config/sections/site.js';
import type { OcppConfig } from '../../src/config/sections/ocpp.js';
import type { Clock, TimerHandle } from '../../src/model/clock.js';
import type { Setpoint } from '../../src/model/decision.js';
import { reading } from '../../src/model/reading.js';
import { type EvseLive, type EvseSpec, type EvseStatus, evseId } from '../../src/model/site.js';
import type { SessionStore } from '../../src/store/session-store.js';
import type { Logger } from '../../src/util/logger.js';
import {
  type AuthStatus,
  isQueued,
  localAnswer,
  mapChargingState,
  mapStatus,
  parseChargingNeeds,
  parseMeterValues,
} from './messages.js';
import type { OcppOutbox, OutboxRow } from './outbox.js';
import {
  type AuthoriseHook,
  type AuthoriserAnswer,
  askAuthoriser,
  mergeAuthorisation,
  presentedToken,
} from './auth.js';
import { cmsCapA, dischargeProfileId, gatewayProfile, isCmsMaxProfile, isDischarge } from './profiles.js';
import { callErrorOf, callWithId, toRpcError } from './rpc/call.js';
import { type OcppProtocol, actionsOf } from './rpc/protocol.js';
import { strictValidators } from './rpc/validators.js';

type Json = Record<string, unknown>;

/** What a link needs from the proxy that owns it. */
export interface LinkContext {
  readonly cfg: OcppConfig;
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: GatewayBus;
  readonly sessions: SessionStore;
  readonly outbox: OcppOutbox;
  readonly voltageV: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readPem: (value: string | undefined) => string | undefined;
  readonly onEvChargingNeeds?: (chargerId: string, evseId: string, payload: Json) => void;
  readonly authorise?: AuthoriseHook;
  readonly authoriseTimeoutMs: number;
  readonly onChargerError?: (chargerId: string, connectorId: number, errorCode: string, info?: string) => void;
  readonly onFirmwareStatus?: (chargerId: string, status: string) => void;
  readonly stats: LinkStats;
}

export interface LinkStats {
  forwarded: number;
  answeredLocally: number;
  replayed: number;
  poisoned: number;
  upstreamConnects: number;
}

/** The connected charger side as the link sees it (ocpp-rpc's server client). */
export type ChargerSocket = RPCClient;

const FIRST_LOCAL_TX_ID = 1_000_000_001;
const STATUSES_16: ReadonlySet<string> = new Set(['Accepted', 'Blocked', 'Expired', 'Invalid', 'ConcurrentTx']);
/** Longest time a running session's energy may lag in the store (the bus always has the latest). */
const ENERGY_PERSIST_MS = 30_000;

/**
 * One proxied charger: its WebSocket to the gateway, its own upstream
 * WebSocket to the CMS, and the durable outbox between them. All decisions
 * about forwarding, local answers, replay and the gateway's own profiles
 * for this charger live here; the proxy only accepts sockets.
 */
export class ChargerLink {
  readonly protocol: OcppProtocol;
  private upstream?: RPCClient;
  private upOnline = false;
  private reconnectAttempt = 0;
  private reconnectTimer?: TimerHandle;
  private retryTimer?: TimerHandle;
  private draining = false;
  private closed = false;
  private chargerGone = false;
  private readonly waiters = new Map<number, (response: unknown) => void>();
  private connecting?: Promise<void>;
  /** OCPP-J allows one outstanding CALL per direction: gateway, CMS and replay calls take turns. */
  private readonly chargerSerial = new Serial();
  /** Answers received from the CMS (liveness evidence for the poison policy). */
  private answers = 0;
  private stuck = false;
  private readonly upSerial = new Serial();
  private bootPayload?: Json;
  private bootOwed = false;
  private readonly announced = new Set<number>();
  private lastSetpoints = new Map<number, Setpoint>();
  /**
   * EVSEs on which a gateway discharge (V2G) profile may be in force. A
   * bidirectional 2.1 charger starts with all of them: a profile written
   * before a gateway restart is unknown, so the first charging set-point clears it.
   */
  private readonly dischargeProfiles = new Set<number>();
  /** Authoriser questions still open (answered with "no answer" when the link closes). */
  private readonly authAsks = new Set<() => void>();
  private cmsCap?: number;

  constructor(
    readonly id: string,
    private readonly charger: ChargerSocket,
    private readonly spec: ChargerConfig,
    private readonly ctx: LinkContext,
  ) {
    this.protocol = charger.protocol as OcppProtocol;
    this.debug = ctx.log.isLevelEnabled('debug');
  }

  /** Debug logging costs an object per message; decided once per link. */
  private readonly debug: boolean;

  get online(): boolean {
    return this.upOnline;
  }

  start(): void {
    // A CMS max profile outlives gateway restarts: the charger only holds the merged one.
    this.cmsCap = this.ctx.outbox.cmsCap(this.id)?.capA;
    if (this.protocol === 'ocpp2.1' && this.spec.bidirectional) {
      for (let c = 1; c <= this.spec.connectors; c++) this.dischargeProfiles.add(c);
    }
    for (const action of actionsOf(this.protocol)) {
      this.charger.handle(
        action,
        ({ messageId, params }) =>
          this.fromCharger(action, messageId ?? randomUUID(), (params ?? {}) as Json) as Promise<Json>,
      );
    }
    this.charger.on('close', () => this.onChargerClose());
    for (let c = 1; c <= this.spec.connectors; c++) this.announce(c);
    this.ctx.bus.emit('device', {
      id: this.id,
      protocol: 'ocpp',
      kind: 'charger',
      online: true,
      lastSeen: this.ctx.clock.now(),
    });
    void this.connectUpstream();
  }

  /** Close both sides (gateway stopping or charger replaced by a new connection). */
  async close(force = false): Promise<void> {
    this.closed = true;
    this.ctx.clock.clearTimeout(this.reconnectTimer);
    this.ctx.clock.clearTimeout(this.retryTimer);
    for (const w of [...this.waiters.values()]) w(undefined);
    this.waiters.clear();
    for (const giveUp of [...this.authAsks]) giveUp();
    const up = this.upstream;
    this.upstream = undefined;
    this.upOnline = false;
    await Promise.allSettled([
      up?.close({ code: 1001, force: true }),
      this.charger.close({ code: 1001, reason: 'gateway going away', force }),
    ]);
  }

  // ---------------------------------------------------------------- charger → CMS

  private async fromCharger(action: string, msgId: string, params: Json): Promise<unknown> {
    if (this.debug) {
      this.ctx.log.debug(
        { action, msgId, upOnline: this.upOnline, connecting: this.connecting !== undefined },
        'charger call',
      );
    }
    await this.upstreamSettled();
    // Asked in parallel with the CMS; only calls presenting a token pay for it.
    const auth = this.askAuthoriser(action, params);
    if (isQueued(this.protocol, action)) return this.queued(action, msgId, params, auth);
    this.observeCall(action, params);
    if (action === 'BootNotification') this.bootPayload = params;
    if (this.upOnline && this.upstream) {
      try {
        const upstream = this.upstream;
        const res = await this.upSerial.run(() =>
          callWithId(upstream, msgId, action, params, {
            clock: this.ctx.clock,
            timeoutMs: this.ctx.cfg.forwardTimeoutMs,
          }),
        );
        this.answered();
        this.ctx.stats.forwarded++;
        const merged = auth ? mergeAuthorisation(this.protocol, res as Json, await auth, true) : (res as Json);
        this.observeAnswer(action, params, res as Json);
        return merged;
      } catch (err) {
        const ce = callErrorOf(err);
        if (ce) throw toRpcError(ce);
        // No answer (timeout, socket dropped): serve locally below.
      }
    }
    const plain = localAnswer(this.protocol, action, params, this.localContext());
    if (!plain) throw createRPCError('InternalError', `${action}: CMS unreachable and no local answer`);
    const local = auth ? mergeAuthorisation(this.protocol, plain, await auth, false) : plain;
    // The CMS gets the charger's boot once it is reachable again (before any queued message).
    if (action === 'BootNotification') this.bootOwed = true;
    this.ctx.stats.answeredLocally++;
    // The cache holds the gateway's own answers, not the authoriser's (it keeps its own).
    this.observeAnswer(action, params, plain);
    return local;
  }

  /**
   * Messages the CMS must see: written to the outbox before anything else,
   * then answered by the CMS if it answers within `forwardTimeoutMs`, else
   * locally. Either way the row stays queued until the CMS has it.
   */
  private async queued(
    action: string,
    msgId: string,
    params: Json,
    auth: Promise<AuthoriserAnswer | undefined> | undefined,
  ): Promise<unknown> {
    const merge = async (res: Json, fromCms: boolean): Promise<Json> =>
      auth ? mergeAuthorisation(this.protocol, res, await auth, fromCms) : res;
    let observed = false;
    let unanswered = false;
    // CMS up and nothing queued before it: forward like any call; the outbox is for what the CMS could not take.
    // A gateway crash mid-forward loses nothing: the charger never got an answer and repeats the message.
    if (this.upOnline && this.upstream && !this.ctx.outbox.busy(this.id, msgId)) {
      this.observeCall(action, params);
      observed = true;
      const direct = await this.forwardQueued(action, msgId, params);
      if (direct !== undefined) return merge(direct, true);
      unanswered = true; // the charger has waited long enough: queue it and answer locally
    }
    const now = this.ctx.clock.now();
    const { row, repeat } = await this.ctx.outbox.appendDurable({
      chargerId: this.id,
      msgId,
      protocol: this.protocol,
      action,
      payload: params,
      createdAt: now,
      offline: unanswered || !this.upOnline,
      ...this.sessionRef(action, params),
    });
    if (repeat) {
      // The charger repeats a message (it never saw our answer, e.g. the gateway was killed): answer the same again.
      if (row.status === 'done' && row.response !== undefined && row.localTxId === undefined)
        return merge(row.response as Json, true);
      if (row.localTxId !== undefined) return merge(this.localStartAnswer(params, row.localTxId), false);
    } else if (!observed) {
      this.observeCall(action, params);
    }
    const answer = unanswered ? undefined : await this.awaitCms(row);
    if (unanswered) void this.drain();
    const fromCms = answer !== undefined;
    let result: Json;
    if (fromCms) {
      result = answer as Json;
    } else if (this.protocol === 'ocpp1.6' && action === 'StartTransaction') {
      const txId =
        this.ctx.outbox.byMessage(this.id, msgId)?.localTxId ??
        this.ctx.outbox.issueLocalTx(row.seq, (tx) => this.sessionId(tx));
      result = this.localStartAnswer(params, txId);
    } else {
      result = localAnswer(this.protocol, action, params, this.localContext()) ?? {};
    }
    if (!fromCms) this.ctx.stats.answeredLocally++;
    this.observeQueuedAnswer(action, params, result, fromCms, row.seq);
    return merge(result, fromCms);
  }

  /** Live forward of a transaction message; undefined when the CMS did not answer (the caller queues it). */
  private async forwardQueued(action: string, msgId: string, params: Json): Promise<Json | undefined> {
    const up = this.upstream;
    if (!up) return undefined;
    let res: Json;
    try {
      res = (await this.upSerial.run(() =>
        callWithId(up, msgId, action, params, { clock: this.ctx.clock, timeoutMs: this.ctx.cfg.forwardTimeoutMs }),
      )) as Json;
    } catch (err) {
      const ce = callErrorOf(err);
      if (ce) throw toRpcError(ce);
      return undefined;
    }
    this.answered();
    this.ctx.stats.forwarded++;
    if (this.protocol === 'ocpp1.6' && action === 'StartTransaction') {
      const status = (res.idTagInfo as { status?: string } | undefined)?.status;
      if (typeof params.idTag === 'string' && status)
        this.ctx.outbox.cacheAuth(params.idTag, status, this.ctx.clock.now());
      this.observeQueuedAnswer(action, params, res, true, undefined);
    }
    // A live forward adds no outbox row: only a session marked pending by this very message
    // (new, or stopped) can change its sync state. Meter values never do.
    if (action !== 'MeterValues') {
      const ref = this.sessionRef(action, params).sessionId;
      if (ref && this.ctx.sessions.get(ref)?.syncState !== 'synced') this.refreshSync(ref);
    }
    return res;
  }

  /** Ask the external authoriser when this call presents a token (bounded wait; never throws). */
  private askAuthoriser(action: string, params: Json): Promise<AuthoriserAnswer | undefined> | undefined {
    const hook = this.ctx.authorise;
    if (!hook) return undefined;
    const tok = presentedToken(this.protocol, action, params);
    if (!tok) return undefined;
    return askAuthoriser(
      hook,
      { ...tok, chargerId: this.id },
      {
        clock: this.ctx.clock,
        timeoutMs: this.ctx.authoriseTimeoutMs,
        onError: (err) =>
          this.ctx.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'external authoriser failed'),
        inFlight: this.authAsks,
      },
    );
  }

  private localStartAnswer(params: Json, txId: number): Json {
    return { transactionId: txId, idTagInfo: { status: this.authorise(String(params.idTag ?? '')) } };
  }

  /** Wait for the drain to deliver this row, at most `forwardTimeoutMs`; undefined = answer locally. */
  private awaitCms(row: OutboxRow): Promise<unknown> {
    if (!this.upOnline) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = this.ctx.clock.setTimeout(() => {
        this.waiters.delete(row.seq);
        resolve(undefined);
      }, this.ctx.cfg.forwardTimeoutMs);
      this.waiters.set(row.seq, (res) => {
        this.ctx.clock.clearTimeout(timer);
        resolve(res);
      });
      void this.drain();
    });
  }

  private sessionRef(action: string, params: Json): { sessionId?: string } {
    if (this.protocol === 'ocpp1.6') {
      if ((action === 'StopTransaction' || action === 'MeterValues') && params.transactionId !== undefined) {
        return { sessionId: this.sessionId(params.transactionId as number) };
      }
      return {};
    }
    if (action === 'TransactionEvent') {
      const tx = (params.transactionInfo as { transactionId?: string } | undefined)?.transactionId;
      if (tx) return { sessionId: this.sessionId(tx) };
    }
    return {};
  }

  private sessionId(chargerTxId: string | number): string {
    return `${this.id}-${chargerTxId}`;
  }

  // ---------------------------------------------------------------- replay

  /** Send pending outbox rows upstream, oldest first, one at a time. */
  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const { outbox, clock, cfg } = this.ctx;
    try {
      for (;;) {
        const up = this.upstream;
        if (!this.upOnline || !up || this.closed) return;
        const rows = outbox.pending(this.id, 64);
        if (rows.length === 0) break;
        for (let i = 0; i < rows.length; i++) {
          if (!this.upOnline || this.upstream !== up) return;
          const row = rows[i] as OutboxRow;
          const prepared = this.prepare(row);
          if ('poison' in prepared) {
            this.poison(row, prepared.poison);
            continue;
          }
          // Coalesce a backlog of meter values of one connector and transaction into one frame (optional).
          const group = [row];
          let payload = prepared.payload;
          while (row.action === 'MeterValues' && group.length < cfg.replay.batchMeterValues && i + 1 < rows.length) {
            const next = rows[i + 1] as OutboxRow;
            const np = next.action === 'MeterValues' ? this.prepare(next) : undefined;
            if (!np || 'poison' in np || !sameMeterTarget(payload, np.payload)) break;
            payload = {
              ...payload,
              meterValue: [...(payload.meterValue as unknown[]), ...(np.payload.meterValue as unknown[])],
            };
            group.push(next);
            i++;
          }
          const answersBefore = this.answers;
          try {
            const res = await this.upSerial.run(() =>
              callWithId(up, row.msgId, row.action, payload, {
                clock,
                timeoutMs: cfg.upstream?.callTimeoutMs ?? 30_000,
              }),
            );
            this.answered();
            const now = clock.now();
            outbox.markDoneMany(
              group.map((g) => g.seq),
              res,
              now,
            );
            for (const g of group) {
              this.ctx.stats.replayed++;
              this.delivered(g, res as Json);
            }
          } catch (err) {
            const ce = callErrorOf(err);
            const stillOpen = this.upOnline && this.upstream === up;
            if (!ce && !stillOpen) return; // socket dropped: resume after reconnect
            const why = ce ? `${ce.code}: ${ce.description}` : err instanceof Error ? err.message : String(err);
            // A refusal (CALLERROR) is about this message; a timeout is more likely a stuck link, so it
            // gets more tries and the connection is reopened. Either way the queue cannot block forever.
            // A timeout counts against the message only if the CMS answered other calls meanwhile
            // (it is alive and stuck on this one); a silent CMS is an outage, not a poison message.
            const counts = ce !== undefined || this.answers > answersBefore;
            const limit = ce ? cfg.replay.maxAttempts : cfg.replay.maxTimeouts;
            if (counts && row.attempts + 1 >= limit) {
              for (const g of group) this.poison(g, why);
              continue;
            }
            if (counts) outbox.markAttempt(row.seq, why);
            this.ctx.log.warn({ action: row.action, err: why }, 'CMS did not take a queued message');
            if (!ce) {
              this.stuck = true;
              void up.close({ code: 1001, reason: 'no answer', force: true });
              return;
            }
            this.scheduleRetry(row.attempts + 1);
            return;
          }
        }
      }
      if (this.chargerGone && outbox.pending(this.id, 1).length === 0) void this.closeUpstream();
    } finally {
      this.draining = false;
    }
  }

  private scheduleRetry(attempt: number): void {
    const { replay } = this.ctx.cfg;
    const delay = jittered(replay.retryMinMs, replay.retryMaxMs, attempt);
    this.ctx.clock.clearTimeout(this.retryTimer);
    this.retryTimer = this.ctx.clock.setTimeout(() => void this.drain(), delay);
  }

  /**
   * Park a message the CMS will never take, so the queue behind it moves on.
   * It stays in the outbox (status `poison`) for the API and metrics.
   */
  private poison(row: OutboxRow, why: string): void {
    this.ctx.outbox.markPoison(row.seq, why, this.ctx.clock.now());
    this.ctx.stats.poisoned++;
    this.ctx.log.error({ chargerId: this.id, action: row.action, msgId: row.msgId, err: why }, 'outbox message parked');
    this.waiters.get(row.seq)?.(undefined);
    this.waiters.delete(row.seq);
    if (row.sessionId) this.refreshSync(row.sessionId);
  }

  /** Payload as the CMS must see it: 1.6 transaction ids remapped, 2.x `offline` flags set. */
  private prepare(row: OutboxRow): { payload: Json } | { poison: string } {
    const payload = { ...row.payload };
    if (row.protocol === 'ocpp1.6') {
      if (
        (row.action === 'StopTransaction' || row.action === 'MeterValues') &&
        typeof payload.transactionId === 'number'
      ) {
        const tx = payload.transactionId;
        const up = this.ctx.outbox.upstreamTx(this.id, tx);
        if (up !== undefined) payload.transactionId = up;
        else if (tx >= FIRST_LOCAL_TX_ID && this.isLocalTx(tx)) {
          if (row.action === 'MeterValues') delete payload.transactionId;
          else return { poison: `transaction ${tx} was never accepted by the CMS` };
        }
      }
    } else if (row.action === 'TransactionEvent' && row.offline) {
      payload.offline = true;
    }
    return { payload };
  }

  private isLocalTx(tx: number): boolean {
    return this.ctx.outbox.isLocalTx(this.id, tx);
  }

  private delivered(row: OutboxRow, res: Json): void {
    const waiter = this.waiters.get(row.seq);
    this.waiters.delete(row.seq);
    if (row.protocol === 'ocpp1.6' && row.action === 'StartTransaction') {
      const fresh = this.ctx.outbox.byMessage(this.id, row.msgId);
      const upstreamTx = res.transactionId as number;
      const status = (res.idTagInfo as { status?: string } | undefined)?.status;
      if (typeof row.payload.idTag === 'string' && status) {
        this.ctx.outbox.cacheAuth(row.payload.idTag, status, this.ctx.clock.now());
      }
      if (fresh?.localTxId !== undefined) {
        this.ctx.outbox.mapTx(this.id, fresh.localTxId, upstreamTx);
        const sid = this.sessionId(fresh.localTxId);
        const s = this.ctx.sessions.get(sid);
        if (s) this.saveSession({ ...s, upstreamTransactionId: String(upstreamTx) }, 'session.updated');
        this.refreshSync(sid);
      }
    }
    if (row.sessionId) this.refreshSync(row.sessionId);
    waiter?.(res);
  }

  /** pending while the CMS lacks any of the session's messages, failed if one was parked, else synced. */
  private refreshSync(sessionId: string): void {
    const s = this.ctx.sessions.get(sessionId);
    if (!s) return;
    const { pending, poison } = this.ctx.outbox.sessionStatus(sessionId);
    const syncState: SessionInfo['syncState'] = poison > 0 ? 'failed' : pending > 0 ? 'pending' : 'synced';
    if (syncState !== s.syncState) this.saveSession({ ...s, syncState }, 'session.updated');
  }

  // ---------------------------------------------------------------- upstream

  /** While the CMS connection is being opened, wait for it (bounded) so a charger's first frames go upstream. */
  private async upstreamSettled(): Promise<void> {
    const c = this.connecting;
    if (!c || this.upOnline) return;
    let timer: TimerHandle | undefined;
    await Promise.race([
      c,
      new Promise<void>((resolve) => {
        timer = this.ctx.clock.setTimeout(resolve, this.ctx.cfg.forwardTimeoutMs);
      }),
    ]);
    this.ctx.clock.clearTimeout(timer);
  }

  private connectUpstream(): Promise<void> {
    const p = this.openUpstream().finally(() => {
      if (this.connecting === p) this.connecting = undefined;
    });
    this.connecting = p;
    return p;
  }

  private async openUpstream(): Promise<void> {
    const up = this.ctx.cfg.upstream;
    if (!up || this.closed) return;
    const password = up.passwords[this.id] ?? up.password;
    const client = new RPCClient({
      identity: this.id,
      endpoint: up.url.replace(/\/+$/, ''),
      protocols: [this.protocol],
      strictMode: true,
      strictModeValidators: strictValidators(),
      reconnect: false,
      callTimeoutMs: up.callTimeoutMs,
      pingIntervalMs: up.pingIntervalMs,
      ...(password !== undefined ? { password } : {}),
      wsOpts: {
        maxPayload: this.ctx.cfg.maxFrameBytes,
        rejectUnauthorized: up.rejectUnauthorized,
        ...(up.ca ? { ca: this.ctx.readPem(up.ca) } : {}),
        ...(up.clientCert ? { cert: this.ctx.readPem(up.clientCert) } : {}),
        ...(up.clientKey ? { key: this.ctx.readPem(up.clientKey) } : {}),
      },
    } as ConstructorParameters<typeof RPCClient>[0]);
    for (const action of actionsOf(this.protocol)) {
      client.handle(
        action,
        ({ messageId, params }) =>
          this.fromCms(action, messageId ?? randomUUID(), (params ?? {}) as Json) as Promise<Json>,
      );
    }
    client.on('error', () => {});
    client.on('socketError', () => {});
    this.upstream = client;
    let opened = false;
    client.on('close', () => {
      if (this.upstream !== client) return;
      const wasOnline = this.upOnline;
      this.upOnline = false;
      this.upstream = undefined;
      if (wasOnline) this.ctx.log.warn('CMS connection lost; serving locally');
      // Chargers waiting for a CMS answer get the local one now rather than after the forward timeout.
      for (const w of [...this.waiters.values()]) w(undefined);
      this.waiters.clear();
      if (!this.closed && !(this.chargerGone && this.ctx.outbox.pending(this.id, 1).length === 0)) {
        this.scheduleReconnect();
      }
    });
    try {
      await client.connect();
      opened = true;
    } catch (err) {
      if (this.upstream === client) {
        this.upstream = undefined;
        this.ctx.log.debug({ err: (err as Error).message }, 'CMS connect failed');
        if (!this.closed) this.scheduleReconnect();
      }
      return;
    }
    if (!opened || this.upstream !== client || this.closed) {
      await client.close({ force: true });
      return;
    }
    this.upOnline = true;
    // After a link that stopped answering, keep backing off until the CMS answers again.
    if (!this.stuck) this.reconnectAttempt = 0;
    this.ctx.stats.upstreamConnects++;
    this.ctx.log.info('CMS connection up');
    if (this.bootOwed && this.bootPayload) {
      try {
        await callWithId(client, `gk-boot-${randomUUID()}`, 'BootNotification', this.bootPayload, {
          clock: this.ctx.clock,
          timeoutMs: up.callTimeoutMs,
        });
        this.bootOwed = false;
      } catch (err) {
        this.ctx.log.warn({ err: (err as Error).message }, 'CMS did not take the late boot');
      }
    }
    void this.drain();
  }

  private answered(): void {
    this.answers++;
    if (this.stuck) {
      this.stuck = false;
      this.reconnectAttempt = 0;
    }
  }

  /** Jittered exponential back-off between `reconnectMinMs` and `reconnectMaxMs`, on the injected clock. */
  private scheduleReconnect(): void {
    if (this.pendingReconnect) return;
    const up = this.ctx.cfg.upstream;
    if (!up) return;
    const delay = jittered(up.reconnectMinMs, up.reconnectMaxMs, this.reconnectAttempt++);
    this.pendingReconnect = true;
    this.reconnectTimer = this.ctx.clock.setTimeout(() => {
      this.pendingReconnect = false;
      void this.connectUpstream();
    }, delay);
  }

  private pendingReconnect = false;

  /** Delay of the next reconnect attempt (tests, API). */
  get reconnectAttempts(): number {
    return this.reconnectAttempt;
  }

  private async closeUpstream(): Promise<void> {
    const up = this.upstream;
    this.upstream = undefined;
    this.upOnline = false;
    await up?.close({ code: 1000, force: true });
  }

  /** CMS → charger: pass through with the CMS's message id; max profiles are merged with the gateway's. */
  private async fromCms(action: string, msgId: string, params: Json): Promise<unknown> {
    if (this.chargerGone) throw createRPCError('GenericError', 'charger not connected');
    if (action === 'SetChargingProfile' && isCmsMaxProfile(this.protocol, params)) {
      return this.mergeCmsMaxProfile(params);
    }
    if (action === 'ClearChargingProfile' && this.clearsCmsMax(params)) {
      // The CMS's max profile only ever lived in the gateway (merged): clearing it lifts the merge.
      this.cmsCap = undefined;
      this.ctx.outbox.setCmsCap(this.id, undefined, this.ctx.clock.now());
      await this.reapply().catch(() => {});
      if (!this.isClearAll(params)) return { status: 'Accepted' };
    }
    const res = await this.toCharger(action, params, msgId);
    if (action === 'ClearChargingProfile' && (res as Json).status === 'Accepted') {
      // A broad clear may have removed the gateway's own profile: write it again.
      void this.reapply();
    }
    return res;
  }

  private async toCharger(action: string, params: Json, msgId = `gk-${randomUUID()}`): Promise<unknown> {
    try {
      return await this.chargerSerial.run(() =>
        callWithId(this.charger, msgId, action, params, {
          clock: this.ctx.clock,
          timeoutMs: this.ctx.cfg.callTimeoutMs,
        }),
      );
    } catch (err) {
      const ce = callErrorOf(err);
      if (ce) throw toRpcError(ce);
      throw createRPCError('InternalError', `charger did not answer: ${(err as Error).message}`);
    }
  }

  private isClearAll(p: Json): boolean {
    if (this.protocol === 'ocpp1.6') {
      return (
        p.id === undefined &&
        p.connectorId === undefined &&
        p.chargingProfilePurpose === undefined &&
        p.stackLevel === undefined
      );
    }
    return p.chargingProfileId === undefined && p.chargingProfileCriteria === undefined;
  }

  /** Whether a CMS ClearChargingProfile targets the CMS's own max profile (by purpose, by id, or everything). */
  private clearsCmsMax(p: Json): boolean {
    const stored = this.ctx.outbox.cmsCap(this.id)?.payload;
    if (this.cmsCap === undefined && !stored) return false;
    if (this.isClearAll(p)) return true;
    if (this.protocol === 'ocpp1.6') {
      const id = (stored?.csChargingProfiles as { chargingProfileId?: number } | undefined)?.chargingProfileId;
      return p.chargingProfilePurpose === 'ChargePointMaxProfile' || (p.id !== undefined && p.id === id);
    }
    const id = (stored?.chargingProfile as { id?: number } | undefined)?.id;
    const purpose = (p.chargingProfileCriteria as { chargingProfilePurpose?: string } | undefined)
      ?.chargingProfilePurpose;
    return purpose === 'ChargingStationMaxProfile' || (p.chargingProfileId !== undefined && p.chargingProfileId === id);
  }

  /**
   * The CMS sets a station max profile: the charger honours only one such
   * profile, so the gateway keeps the CMS's current limit and writes the
   * minimum of it and the site's set-point into its own profile.
   */
  private async mergeCmsMaxProfile(params: Json): Promise<unknown> {
    this.cmsCap = cmsCapA(this.protocol, params, this.ctx.clock.now(), this.spec.phases, this.ctx.voltageV);
    this.ctx.outbox.setCmsCap(
      this.id,
      this.cmsCap !== undefined ? { capA: this.cmsCap, payload: params } : undefined,
      this.ctx.clock.now(),
    );
    this.ctx.log.info({ chargerId: this.id, capA: this.cmsCap }, 'CMS max profile merged with the site limit');
    const ok = await this.reapply().then(
      () => true,
      () => false,
    );
    return { status: ok ? 'Accepted' : 'Rejected' };
  }

  private async reapply(): Promise<void> {
    const sps = [...this.lastSetpoints.values()];
    if (sps.length === 0 && this.cmsCap !== undefined) {
      sps.push({
        evseId: evseId(this.id, 1),
        currentA: this.cmsCap,
        powerW: this.cmsCap * this.spec.phases * this.ctx.voltageV,
        phases: this.spec.phases,
        reasons: [],
      });
    }
    for (const sp of sps) await this.applySetpoint(sp);
  }

  // ---------------------------------------------------------------- gateway's own calls

  /** Write the gateway's profile for a set-point; resolves only when the charger answers Accepted. */
  async applySetpoint(sp: Setpoint): Promise<void> {
    if (this.chargerGone || this.closed) throw new Error(`${this.id} not connected`);
    const connectorId = Number(sp.evseId.split('/')[1] ?? 1);
    // An unknown charger may turn out to have more connectors than the default spec says.
    const connectors = Math.max(this.spec.connectors, ...this.announced);
    const { action, payload } = gatewayProfile(sp, {
      protocol: this.protocol,
      connectors,
      connectorId,
      stackLevel: this.ctx.cfg.gatewayProfileStackLevel,
      profileId: this.ctx.cfg.gatewayProfileId,
      now: this.ctx.clock.now(),
      ...(this.cmsCap !== undefined ? { capA: this.cmsCap } : {}),
    });
    // Gateway-originated: sent on the charger socket only, own message id, answer never forwarded.
    const res = (await this.toCharger(action, payload)) as { status?: string };
    if (res.status !== 'Accepted') throw new Error(`${this.id}: SetChargingProfile ${res.status ?? 'refused'}`);
    if (isDischarge(this.protocol, sp)) {
      this.dischargeProfiles.add(connectorId);
    } else if (this.dischargeProfiles.has(connectorId)) {
      // A single-EVSE charger charges under the station max profile (EVSE 0) but feeds in under a
      // TxDefaultProfile on its EVSE: that one would stay in force (and keep discharging) unless cleared.
      // With several EVSEs both use the same id on the EVSE, so the write above already replaced it.
      if (connectors <= 1) await this.clearDischargeProfile(connectorId);
      this.dischargeProfiles.delete(connectorId);
    }
    this.lastSetpoints.set(connectorId, sp);
  }

  private async clearDischargeProfile(connectorId: number): Promise<void> {
    const res = (await this.toCharger('ClearChargingProfile', {
      chargingProfileId: dischargeProfileId(this.ctx.cfg.gatewayProfileId, connectorId),
    })) as { status?: string };
    // Unknown: no such profile (already gone, e.g. the charger rebooted). Anything else: retried with the set-point.
    if (res.status !== 'Accepted' && res.status !== 'Unknown') {
      throw new Error(`${this.id}: ClearChargingProfile of the discharge profile ${res.status ?? 'refused'}`);
    }
  }

  /** Try the queue again now (after parked messages were put back in line). */
  kick(): void {
    void this.drain();
  }

  /** A command from the API (RemoteStart/Stop, ...) sent by the gateway itself. */
  async command(action: string, payload: Json): Promise<Json> {
    if (this.chargerGone || this.closed) throw new Error(`${this.id} not connected`);
    return (await this.toCharger(action, payload)) as Json;
  }

  // ---------------------------------------------------------------- bus / sessions

  private announce(connectorId: number): void {
    if (this.announced.has(connectorId) || connectorId < 1) return;
    this.announced.add(connectorId);
    const s = this.spec;
    const spec: EvseSpec = {
      id: evseId(this.id, connectorId),
      chargerId: this.id,
      connectorId,
      protocol: 'ocpp',
      circuitId: s.circuit,
      phaseRotation: s.phaseRotation,
      phases: s.phases,
      minCurrentA: s.minCurrentA,
      maxCurrentA: s.maxCurrentA,
      voltageV: this.ctx.voltageV,
      bidirectional: s.bidirectional,
      priority: s.priority,
    };
    this.ctx.bus.emit('evse.spec', spec);
  }

  private live(connectorId: number, patch: Partial<EvseLive>): void {
    this.announce(connectorId);
    this.ctx.bus.emit('evse.live', {
      id: evseId(this.id, connectorId),
      patch: { ...patch, lastSeen: this.ctx.clock.now() },
    });
  }

  private status(connectorId: number, status: EvseStatus): void {
    this.live(connectorId, { status });
  }

  private observeCall(action: string, p: Json): void {
    const now = this.ctx.clock.now();
    const v16 = this.protocol === 'ocpp1.6';
    switch (action) {
      case 'StatusNotification': {
        const conn = (v16 ? p.connectorId : p.evseId) as number;
        const st = (v16 ? p.status : p.connectorStatus) as string;
        if (conn >= 1) this.status(conn, mapStatus(this.protocol, st));
        // 2.x StatusNotification has no error code: a Faulted connector is the error.
        const code = v16 ? String(p.errorCode ?? 'NoError') : st === 'Faulted' ? 'Faulted' : 'NoError';
        const info = v16 && typeof p.info === 'string' ? p.info : undefined;
        this.hook('onChargerError', () => this.ctx.onChargerError?.(this.id, conn, code, info));
        break;
      }
      case 'FirmwareStatusNotification':
        if (typeof p.status === 'string') {
          const status = p.status;
          this.hook('onFirmwareStatus', () => this.ctx.onFirmwareStatus?.(this.id, status));
        }
        break;
      case 'MeterValues': {
        const conn = (v16 ? p.connectorId : p.evseId) as number;
        const m = parseMeterValues(this.protocol, p.meterValue);
        if (conn >= 1)
          this.meter(
            conn,
            m,
            v16 && p.transactionId !== undefined ? this.sessionId(p.transactionId as number) : undefined,
          );
        break;
      }
      case 'StopTransaction': {
        const sid = this.sessionId(p.transactionId as number);
        const s = this.ctx.sessions.get(sid);
        if (!s) break;
        const stopped: SessionInfo = {
          ...s,
          stoppedAt: Date.parse(p.timestamp as string) || now,
          energyWh: Math.max(0, (p.meterStop as number) - (s.meterStartWh ?? 0)),
          ...(p.reason ? { stopReason: p.reason as string } : {}),
          syncState: 'pending',
        };
        this.saveSession(stopped, 'session.stopped');
        this.live(s.connectorId, {
          sessionId: undefined,
          idTag: undefined,
          sessionStart: undefined,
          powerW: reading(0, now, this.id),
        });
        break;
      }
      case 'TransactionEvent':
        this.transactionEvent(p);
        break;
      case 'NotifyEVChargingNeeds': {
        const evse = evseId(this.id, p.evseId as number);
        this.ctx.bus.emit('ev.needs', parseChargingNeeds(this.id, evse, p, now));
        this.ctx.onEvChargingNeeds?.(this.id, evse, p);
        break;
      }
      default:
        break;
    }
  }

  /** A partner hook must never break the charger's message flow. */
  private hook(name: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.ctx.log.warn({ hook: name, err: err instanceof Error ? err.message : String(err) }, 'hook failed');
    }
  }

  private observeAnswer(action: string, p: Json, res: Json): void {
    if (action === 'Authorize') {
      const tag = this.protocol === 'ocpp1.6' ? p.idTag : (p.idToken as { idToken?: string } | undefined)?.idToken;
      const info = (this.protocol === 'ocpp1.6' ? res.idTagInfo : res.idTokenInfo) as { status?: string } | undefined;
      if (typeof tag === 'string' && info?.status) this.ctx.outbox.cacheAuth(tag, info.status, this.ctx.clock.now());
    }
    if (action === 'BootNotification' && res.status === 'Accepted') {
      this.ctx.bus.emit('device', {
        id: this.id,
        protocol: 'ocpp',
        kind: 'charger',
        online: true,
        lastSeen: this.ctx.clock.now(),
      });
    }
  }

  /** 1.6 StartTransaction: the session exists once the charger's transaction id is known. */
  private observeQueuedAnswer(action: string, p: Json, res: Json, fromCms: boolean, seq: number | undefined): void {
    if (this.protocol !== 'ocpp1.6' || action !== 'StartTransaction') return;
    const txId = res.transactionId as number;
    const sid = this.sessionId(txId);
    if (fromCms && seq !== undefined) this.ctx.outbox.setSession(seq, sid);
    if (this.ctx.sessions.get(sid)) return; // a repeated StartTransaction: the session exists
    const connectorId = p.connectorId as number;
    const startedAt = Date.parse(p.timestamp as string) || this.ctx.clock.now();
    const info: SessionInfo = {
      id: sid,
      evseId: evseId(this.id, connectorId),
      chargerId: this.id,
      connectorId,
      idTag: p.idTag as string,
      startedAt,
      energyWh: 0,
      meterStartWh: p.meterStart as number,
      ...(fromCms ? { upstreamTransactionId: String(txId) } : {}),
      syncState: fromCms ? 'synced' : 'pending',
    };
    this.saveSession(info, 'session.started');
    this.live(connectorId, { sessionId: sid, idTag: info.idTag, sessionStart: startedAt, sessionEnergyWh: 0 });
    this.refreshSync(sid);
  }

  private transactionEvent(p: Json): void {
    const now = this.ctx.clock.now();
    const info = p.transactionInfo as { transactionId: string; chargingState?: string; stoppedReason?: string };
    const evse = (p.evse as { id?: number } | undefined)?.id;
    const sid = this.sessionId(info.transactionId);
    const existing = this.ctx.sessions.get(sid);
    const connectorId = evse ?? existing?.connectorId ?? 1;
    const m = parseMeterValues(this.protocol, p.meterValue);
    const ts = Date.parse(p.timestamp as string) || now;
    const tag = (p.idToken as { idToken?: string } | undefined)?.idToken;
    let s: SessionInfo =
      existing ??
      ({
        id: sid,
        evseId: evseId(this.id, connectorId),
        chargerId: this.id,
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
      this.saveSession(s, !existing ? 'session.started' : ended ? 'session.stopped' : 'session.updated');
    }
    const st = mapChargingState(info.chargingState);
    if (ended) {
      this.live(connectorId, {
        sessionId: undefined,
        idTag: undefined,
        sessionStart: undefined,
        powerW: reading(0, now, this.id),
      });
    } else {
      this.live(connectorId, {
        sessionId: sid,
        ...(s.idTag ? { idTag: s.idTag } : {}),
        sessionStart: s.startedAt,
        sessionEnergyWh: s.energyWh,
        ...(st ? { status: st } : {}),
      });
    }
    this.meter(connectorId, m, undefined);
  }

  private meter(connectorId: number, m: ReturnType<typeof parseMeterValues>, sessionId: string | undefined): void {
    const now = this.ctx.clock.now();
    const patch: { -readonly [K in keyof EvseLive]?: EvseLive[K] } = {};
    if (m.powerW !== undefined) patch.powerW = reading(m.powerW, now, this.id);
    if (m.currentsA) patch.currentsA = reading(m.currentsA, now, this.id);
    if (sessionId && m.energyWh !== undefined) {
      const s = this.ctx.sessions.get(sessionId);
      if (s && s.stoppedAt === undefined) {
        const energyWh = Math.max(0, m.energyWh - (s.meterStartWh ?? m.energyWh));
        patch.sessionEnergyWh = energyWh;
        this.saveEnergy({ ...s, energyWh });
      }
    }
    if (Object.keys(patch).length > 0) this.live(connectorId, patch);
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
    this.saveSession(s, 'session.updated');
  }

  private readonly energyPersistedAt = new Map<string, number>();

  private saveSession(s: SessionInfo, event: 'session.started' | 'session.updated' | 'session.stopped'): void {
    if (event === 'session.stopped') {
      this.energyPersistedAt.delete(s.id);
    }
    this.ctx.sessions.upsert(s);
    this.ctx.bus.emit(event, s);
  }

  private onChargerClose(): void {
    this.chargerGone = true;
    for (const giveUp of [...this.authAsks]) giveUp();
    for (const c of this.announced) this.status(c, 'Offline');
    this.ctx.bus.emit('device', {
      id: this.id,
      protocol: 'ocpp',
      kind: 'charger',
      online: false,
      lastSeen: this.ctx.clock.now(),
    });
    // Keep the CMS link only while it still has queued messages of this charger to deliver.
    if (this.ctx.outbox.pending(this.id, 1).length === 0 || !this.upOnline) {
      this.ctx.clock.clearTimeout(this.reconnectTimer);
      this.ctx.clock.clearTimeout(this.retryTimer);
      this.closed = true;
      void this.closeUpstream();
    }
  }

  get disconnected(): boolean {
    return this.chargerGone;
  }

  private localContext() {
    return {
      now: this.ctx.clock.now(),
      heartbeatIntervalS: this.ctx.cfg.heartbeatIntervalS,
      authorise: (tag: string) => this.authorise(tag),
    };
  }

  /** Offline authorisation: local list, then the cache of CMS answers, then the configured unknown-id policy. */
  private authorise(idTag: string): AuthStatus {
    if (this.ctx.cfg.localAuthList.includes(idTag)) return 'Accepted';
    const cached = this.ctx.outbox.authStatus(idTag);
    if (cached) {
      // The cache is shared by chargers of every version; 2.x-only statuses (NoCredit, ...) mean "no" in 1.6.
      if (this.protocol === 'ocpp1.6' && !STATUSES_16.has(cached)) return 'Invalid';
      return cached as AuthStatus;
    }
    return this.ctx.cfg.unknownIdTags === 'accept' ? 'Accepted' : 'Invalid';
  }
}

/** Exponential back-off with jitter in [d/2, d], d = min(max, min * 2^attempt). */
export function jittered(minMs: number, maxMs: number, attempt: number): number {
  const d = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(d / 2 + (Math.random() * d) / 2);
}

/** Two MeterValues frames for the same connector / EVSE and transaction (their samples can share one frame). */
function sameMeterTarget(a: Json, b: Json): boolean {
  return a.connectorId === b.connectorId && a.evseId === b.evseId && a.transactionId === b.transactionId;
}

/** Runs async jobs one after another, in submission order. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.tail.then(job, job);
    this.tail = next.catch(() => {});
    return next;
  }
}
