import { randomUUID } from 'node:crypto';
import { createRPCError } from 'ocpp-rpc';
import type { RPCClient } from 'ocpp-rpc';
import { type AuthoriserAnswer, askAuthoriser, mergeAuthorisation, presentedToken } from './auth.js';
import type { ChargerRef, LinkContext } from './context.js';
import type { LocalAnswers } from './local-answers.js';
import { isQueued } from './messages.js';
import type { EvseObserver } from './observer.js';
import type { OutboxReplay } from './replay.js';
import { callErrorOf, toRpcError } from './rpc/call.js';
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
        `gk-boot-${randomUUID()}`,
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
    if (action === 'BootNotification') this.bootPayload = params;
    const client = upstream.current;
    if (client) {
      try {
        const res = (await upstream.call(client, msgId, action, params, this.ctx.cfg.forwardTimeoutMs)) as Payload;
        upstream.answered();
        this.ctx.stats.forwarded++;
        const merged = auth ? mergeAuthorisation(this.protocol, res, await auth, true) : res;
        this.observeAnswer(action, params, res);
        return merged;
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
    return answer;
  }

  /**
   * Messages the CMS must see: written to the outbox before anything else,
   * then answered by the CMS if it answers within `forwardTimeoutMs`, else
   * locally. Either way the row stays queued until the CMS has it.
   */
  private async queued(action: string, msgId: string, params: Payload, auth: Auth): Promise<unknown> {
    const { upstream, replay, sessions, local } = this.parts;
    const { outbox, clock } = this.ctx;
    const merge = async (res: Payload, fromCms: boolean): Promise<Payload> =>
      auth ? mergeAuthorisation(this.protocol, res, await auth, fromCms) : res;
    let observed = false;
    let unanswered = false;
    // CMS up and nothing queued before it: forward like any call; the outbox is for what the CMS could not take.
    // A gateway crash mid-forward loses nothing: the charger never got an answer and repeats the message.
    if (upstream.current && !outbox.busy(this.charger.id, msgId)) {
      this.observeCall(action, params);
      observed = true;
      const direct = await this.forwardQueued(action, msgId, params);
      if (direct !== undefined) return merge(direct, true);
      unanswered = true; // the charger has waited long enough: queue it and answer locally
    }
    const { row, repeat } = await outbox.appendDurable({
      chargerId: this.charger.id,
      msgId,
      protocol: this.protocol,
      action,
      payload: params,
      createdAt: clock.now(),
      offline: unanswered || !upstream.online,
      ...sessions.sessionRef(action, params),
    });
    if (repeat) {
      // The charger repeats a message (it never saw our answer, e.g. the gateway was killed): answer the same again.
      if (row.status === 'done' && row.response !== undefined && row.localTxId === undefined)
        return merge(row.response as Payload, true);
      if (row.localTxId !== undefined) return merge(this.localStart(params, row.localTxId), false);
    } else if (!observed) {
      this.observeCall(action, params);
    }
    const answer = unanswered ? undefined : await replay.awaitCms(row);
    if (unanswered) void replay.drain();
    const fromCms = answer !== undefined;
    let result: Payload;
    if (answer !== undefined) {
      result = answer;
    } else if (this.protocol === 'ocpp1.6' && action === 'StartTransaction') {
      const txId =
        outbox.byMessage(this.charger.id, msgId)?.localTxId ??
        outbox.issueLocalTx(row.seq, (tx) => sessions.sessionId(tx));
      result = this.localStart(params, txId);
    } else {
      result = local.answer(action, params) ?? {};
    }
    if (!fromCms) this.ctx.stats.answeredLocally++;
    this.observeQueuedAnswer(action, params, result, fromCms, row.seq);
    return merge(result, fromCms);
  }

  /** Live forward of a transaction message; undefined when the CMS did not answer (the caller queues it). */
  private async forwardQueued(action: string, msgId: string, params: Payload): Promise<Payload | undefined> {
    const { upstream, sessions } = this.parts;
    const client = upstream.current;
    if (!client) return undefined;
    let res: Payload;
    try {
      res = (await upstream.call(client, msgId, action, params, this.ctx.cfg.forwardTimeoutMs)) as Payload;
    } catch (err) {
      const ce = callErrorOf(err);
      if (ce) throw toRpcError(ce);
      return undefined;
    }
    upstream.answered();
    this.ctx.stats.forwarded++;
    if (this.protocol === 'ocpp1.6' && action === 'StartTransaction') {
      const req = params as unknown as V16.StartTransactionRequest;
      const status = (res as unknown as V16.StartTransactionResponse).idTagInfo?.status;
      if (typeof req.idTag === 'string' && status) this.ctx.outbox.cacheAuth(req.idTag, status, this.ctx.clock.now());
      this.observeQueuedAnswer(action, params, res, true, undefined);
    }
    sessions.forwardedLive(action, params);
    return res;
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
  private observeCall(action: string, p: Payload): void {
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
        sessions.meterValues(p as unknown as V16.MeterValuesRequest | V201.MeterValuesRequest);
        break;
      case 'StopTransaction':
        sessions.stopped16(p as unknown as V16.StopTransactionRequest);
        break;
      case 'TransactionEvent':
        sessions.transactionEvent(p as unknown as V201.TransactionEventRequest);
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
  private observeQueuedAnswer(action: string, p: Payload, res: Payload, fromCms: boolean, seq?: number): void {
    if (this.protocol !== 'ocpp1.6' || action !== 'StartTransaction') return;
    const txId = (res as unknown as V16.StartTransactionResponse).transactionId;
    this.parts.sessions.started16(p as unknown as V16.StartTransactionRequest, txId, fromCms, seq);
  }
}
