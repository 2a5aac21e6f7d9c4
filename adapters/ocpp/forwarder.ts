import { randomUUID } from 'node:crypto';
import { createRPCError } from 'ocpp-rpc';
import type { RPCClient } from 'ocpp-rpc';
import { type AuthoriserAnswer, askAuthoriser, mergeAuthorisation, presentedToken } from './auth.js';
import type { ChargerRef, LinkContext } from './context.js';
import type { LocalAnswers } from './local-answers.js';
import { isQueued } from './messages.js';
import { contentKey } from './repeats.js';
import type { EvseObserver } from './observer.js';
import type { OutboxReplay } from './replay.js';
import { callErrorOf, toRpcError } from './rpc/call.js';
import { checkAnswer } from './rpc/schema.js';
import type { OcppProtocol } from './rpc/protocol.js';
import type { SessionTracker } from './sessions.js';
import type { Payload, V16, V21, V201 } from './types.js';
import type { Upstream } from './upstream.js';

type Ctx = Pick<LinkContext, 'cfg' | 'clock' | 'log' | 'outbox' | 'stats' | 'authorise' | 'authoriseTimeoutMs'>;
type Auth = Promise<AuthoriserAnswer | undefined> | undefined;

/** The parts of a link the forwarder works with. */
export interface ForwarderParts {
  readonly upstream: Upstream;
  readonly replay: OutboxReplay;
  readonly sessions: SessionTracker;
  readonly observer: EvseObserver;
  readonly local: LocalAnswers;
}

/**
 * Charger → CMS: every call of the charger is forwarded live with its own
 * message id; messages the CMS must see go through the durable outbox
 * first when anything of the charger is queued or the CMS is down; the
 * gateway answers locally when the CMS does not. What the charger says is
 * observed (bus, sessions) on the way.
 */
export class Forwarder {
  private bootPayload?: Payload;
  /** The charger's message id of that boot: a late delivery is the same message, not a new one. */
  private bootMsgId?: string;
  private bootOwed = false;
  /** Authoriser questions still open (answered with "no answer" when the link closes). */
  private readonly authAsks = new Set<() => void>();
  /** Debug logging costs an object per message; decided once per link. */
  private readonly debug: boolean;

  constructor(
    private readonly charger: ChargerRef,
    private readonly protocol: OcppProtocol,
    private readonly parts: ForwarderParts,
    private readonly ctx: Ctx,
  ) {
    this.debug = ctx.log.isLevelEnabled('debug');
  }

  /** The link is closing or the charger left: open authoriser questions end with "no answer". */
  giveUp(): void {
    for (const giveUp of [...this.authAsks]) giveUp();
  }

  /** The CMS gets the charger's boot once it is reachable again (before any queued message). */
  async sendOwedBoot(client: RPCClient): Promise<void> {
    if (!this.bootOwed || !this.bootPayload) return;
    try {
      const timeoutMs = this.ctx.cfg.upstream?.callTimeoutMs ?? 30_000;
      await this.parts.upstream.call(
        client,
        this.bootMsgId ?? `gk-boot-${randomUUID()}`,
        'BootNotification',
        this.bootPayload,
        timeoutMs,
      );
      this.bootOwed = false;
    } catch (err) {
      this.ctx.log.warn({ err: (err as Error).message }, 'CMS did not take the late boot');
    }
  }

  async fromCharger(action: string, msgId: string, params: Payload): Promise<unknown> {
    const { upstream, local } = this.parts;
    if (this.debug) this.ctx.log.debug({ action, msgId, upOnline: upstream.online }, 'charger call');
    await upstream.settled();
    // Asked in parallel with the CMS; only calls presenting a token pay for it.
    const auth = this.askAuthoriser(action, params);
    if (isQueued(this.protocol, action)) return this.queued(action, msgId, params, auth);
    this.observeCall(action, params);
    if (action === 'BootNotification') {
      this.bootPayload = params;
      this.bootMsgId = msgId;
    }
    const client = upstream.current;
    if (client) {
      try {
        const res = (await upstream.call(client, msgId, action, params, this.ctx.cfg.forwardTimeoutMs)) as Payload;
        upstream.answered();
        this.ctx.stats.forwarded++;
        const merged = auth ? mergeAuthorisation(this.protocol, res, await auth, true) : res;
        this.observeAnswer(action, params, res);
        // The CMS's answer was checked on arrival; only one the gateway changed is checked again.
        return merged === res ? res : this.own(action, merged);
      } catch (err) {
        const ce = callErrorOf(err);
        if (ce) throw toRpcError(ce);
        // No answer (timeout, socket dropped): serve locally below.
      }
    }
    const plain = local.answer(action, params);
    if (!plain) throw createRPCError('InternalError', `${action}: CMS unreachable and no local answer`);
    const answer = auth ? mergeAuthorisation(this.protocol, plain, await auth, false) : plain;
    if (action === 'BootNotification') this.bootOwed = true;
    this.ctx.stats.answeredLocally++;
    // The cache holds the gateway's own answers, not the authoriser's (it keeps its own).
    this.observeAnswer(action, params, plain);
    return this.own(action, answer);
  }

  /**
   * An answer the gateway built (local, or merged with the authoriser's): checked against the schema before it
   * goes out, as ocpp-rpc's strict mode would; the CMS's own answers were checked where they arrived.
   */
  private own(action: string, answer: Payload): Payload {
    try {
      checkAnswer(this.protocol, action, answer);
    } catch (err) {
      this.ctx.log.warn({ action, err: (err as Error).message }, 'gateway answer fails the OCPP schema');
      throw createRPCError('InternalError');
    }
    return answer;
  }

  /**
   * Messages the CMS must see, live or not, take one path: written to the
   * outbox first (committed before the charger gets any answer), delivered
   * by the replay in order with the charger's message id and the CMS's
   * transaction ids (`tx-ids.ts`), answered by the CMS if it answers within
   * `forwardTimeoutMs`, else locally. A charger's repeat of a recorded
   * message (same message id, or same content under a new one) is answered
   * from the record and never sent as a new message.
   */
  private async queued(action: string, msgId: string, params: Payload, auth: Auth): Promise<unknown> {
    const { upstream, replay, sessions, local } = this.parts;
    const { outbox, clock } = this.ctx;
    // The CMS's answers (live or recorded) were checked on arrival; the gateway's own are checked in `own`.
    const merge = async (res: Payload, fromCms: boolean): Promise<Payload> => {
      const merged = auth ? mergeAuthorisation(this.protocol, res, await auth, fromCms) : res;
      return fromCms && merged === res ? res : this.own(action, merged);
    };
    const key = contentKey(action, params);
    const { row, repeat } = await outbox.appendDurable({
      chargerId: this.charger.id,
      msgId,
      protocol: this.protocol,
      action,
      payload: params,
      createdAt: clock.now(),
      offline: !upstream.online,
      ...sessions.sessionRef(action, params),
      ...(key !== undefined ? { contentKey: key } : {}),
    });
    const sid = row.sessionId;
    if (repeat) {
      // The charger repeats a message (it never saw our answer, e.g. the gateway was killed): answer the same again.
      if (row.localTxId !== undefined) {
        const res = this.localStart(row.payload, row.localTxId);
        this.observeQueuedAnswer(action, row.payload, res, false, sid);
        return merge(res, false);
      }
      if (row.status === 'done' && row.response !== undefined) {
        this.observeQueuedAnswer(action, row.payload, row.response as Payload, true, sid);
        return merge(row.response as Payload, true);
      }
      // Still queued (or parked): wait for it like the first time, it is never queued twice.
    } else {
      this.observeCall(action, params, sid);
    }
    if (!repeat) replay.enqueue(row);
    const answer = await replay.awaitCms(row);
    const fromCms = answer !== undefined;
    let result: Payload;
    if (answer !== undefined) {
      result = answer;
    } else if (this.protocol === 'ocpp1.6' && action === 'StartTransaction') {
      const txId =
        outbox.byMessage(row.chargerId, row.msgId)?.localTxId ?? outbox.issueLocalTx(row.seq, sid ?? sessions.newId());
      result = this.localStart(row.payload, txId);
    } else {
      result = local.answer(action, params) ?? {};
    }
    if (!fromCms) this.ctx.stats.answeredLocally++;
    this.observeQueuedAnswer(
      action,
      row.payload,
      result,
      fromCms,
      sid ?? outbox.byMessage(row.chargerId, row.msgId)?.sessionId,
    );
    return merge(result, fromCms);
  }

  private localStart(params: Payload, txId: number): Payload {
    return this.parts.local.start16(params as unknown as V16.StartTransactionRequest, txId) as unknown as Payload;
  }

  /** Ask the external authoriser when this call presents a token (bounded wait; never throws). */
  private askAuthoriser(action: string, params: Payload): Auth {
    const hook = this.ctx.authorise;
    if (!hook) return undefined;
    const tok = presentedToken(this.protocol, action, params);
    if (!tok) return undefined;
    return askAuthoriser(
      hook,
      { ...tok, chargerId: this.charger.id },
      {
        clock: this.ctx.clock,
        timeoutMs: this.ctx.authoriseTimeoutMs,
        onError: (err) =>
          this.ctx.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'external authoriser failed'),
        inFlight: this.authAsks,
      },
    );
  }

  /** What a charger call tells the gateway (validated by ocpp-rpc's strict mode, so typed by its action). */
  private observeCall(action: string, p: Payload, sid?: string): void {
    const { observer, sessions } = this.parts;
    switch (action) {
      case 'StatusNotification':
        observer.statusNotification(p as unknown as V16.StatusNotificationRequest | V201.StatusNotificationRequest);
        break;
      case 'FirmwareStatusNotification':
        observer.firmwareStatus(
          p as unknown as V16.FirmwareStatusNotificationRequest | V201.FirmwareStatusNotificationRequest,
        );
        break;
      case 'MeterValues':
        sessions.meterValues(p as unknown as V16.MeterValuesRequest | V201.MeterValuesRequest, sid);
        break;
      case 'StopTransaction':
        sessions.stopped16(p as unknown as V16.StopTransactionRequest, sid);
        break;
      case 'TransactionEvent':
        if (sid) sessions.transactionEvent(p as unknown as V201.TransactionEventRequest, sid);
        break;
      case 'NotifyEVChargingNeeds':
        observer.chargingNeeds(p as unknown as V21.NotifyEVChargingNeedsRequest);
        break;
      default:
        break;
    }
  }

  private observeAnswer(action: string, p: Payload, res: Payload): void {
    if (action === 'Authorize') {
      const tag =
        this.protocol === 'ocpp1.6'
          ? (p as unknown as V16.AuthorizeRequest).idTag
          : (p as unknown as V201.AuthorizeRequest).idToken?.idToken;
      const status =
        this.protocol === 'ocpp1.6'
          ? (res as unknown as V16.AuthorizeResponse).idTagInfo?.status
          : (res as unknown as V201.AuthorizeResponse).idTokenInfo?.status;
      if (typeof tag === 'string' && status) this.ctx.outbox.cacheAuth(tag, status, this.ctx.clock.now());
    }
    if (action === 'BootNotification' && (res as unknown as V16.BootNotificationResponse).status === 'Accepted') {
      this.parts.observer.device(true);
    }
  }

  /** 1.6 StartTransaction: the session exists once the charger's transaction id is known. */
  private observeQueuedAnswer(action: string, p: Payload, res: Payload, fromCms: boolean, sid?: string): void {
    if (this.protocol !== 'ocpp1.6' || action !== 'StartTransaction' || !sid) return;
    const txId = (res as unknown as V16.StartTransactionResponse).transactionId;
    this.parts.sessions.started16(p as unknown as V16.StartTransactionRequest, txId, fromCms, sid);
  }
}
