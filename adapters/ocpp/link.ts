import { randomUUID } from 'node:crypto';
import { type RPCClient, createRPCError } from 'ocpp-rpc';
import type { Setpoint } from '../../src/model/decision.js';
import type { ChargerConfig } from '../../src/ports/config.js';
import type { ChargerRef, LinkContext } from './context.js';
import { Forwarder } from './forwarder.js';
import { LocalAnswers } from './local-answers.js';
import { configureMeasurands } from './measurands.js';
import { EvseObserver } from './observer.js';
import { ProfileSink } from './profile-sink.js';
import { OutboxReplay } from './replay.js';
import { callErrorOf, callWithId, toRpcError } from './rpc/call.js';
import type { OcppProtocol } from './rpc/protocol.js';
import { checkAnswer, checkCall } from './rpc/schema.js';
import { Serial } from './serial.js';
import { SessionTracker } from './sessions.js';
import type { Payload } from './types.js';
import { toCharger as toChargerIds } from './tx-ids.js';
import { Upstream, type UpstreamEvents } from './upstream.js';

export type { LinkContext, LinkStats } from './context.js';

const noop = (): void => {};

/** The connected charger side as the link sees it (ocpp-rpc's server client). */
export type ChargerSocket = RPCClient;

/**
 * One proxied charger: its WebSocket to the gateway, its own upstream
 * connection to the CMS (`Upstream`) and the durable outbox between them.
 * The link wires the parts and owns the charger socket; each part has one
 * job: `Forwarder` (charger → CMS, local answers while offline),
 * `OutboxReplay`, `ProfileSink` (the gateway's max profile), `EvseObserver`
 * and `SessionTracker` (what the charger reports, onto the bus and store).
 */
export class ChargerLink implements UpstreamEvents {
  readonly protocol: OcppProtocol;
  private closed = false;
  private chargerGone = false;
  /** OCPP-J allows one outstanding CALL per direction: gateway and CMS calls to the charger take turns. */
  private readonly chargerSerial = new Serial();
  private readonly upstream: Upstream;
  private readonly replay: OutboxReplay;
  private readonly observer: EvseObserver;
  private readonly profiles: ProfileSink;
  private readonly forwarder: Forwarder;

  constructor(
    readonly id: string,
    private readonly charger: ChargerSocket,
    spec: ChargerConfig,
    private readonly ctx: LinkContext,
  ) {
    this.protocol = charger.protocol as OcppProtocol;
    const ref: ChargerRef = { id, spec };
    this.observer = new EvseObserver(ref, this.protocol, ctx);
    const sessions = new SessionTracker(ref, this.protocol, this.observer, ctx);
    // The link itself takes the CMS connection's events (methods, not a closure each per charger).
    this.upstream = new Upstream(ref, this.protocol, ctx, this);
    this.replay = new OutboxReplay(ref, this.upstream, sessions, ctx, () => {
      if (this.chargerGone && !this.ctx.outbox.hasPending(this.id)) void this.upstream.release();
    });
    this.profiles = new ProfileSink(ref, this.protocol, this.observer, (a, p) => this.toCharger(a, p), ctx);
    this.forwarder = new Forwarder(
      ref,
      this.protocol,
      {
        upstream: this.upstream,
        replay: this.replay,
        sessions,
        observer: this.observer,
        local: new LocalAnswers(this.protocol, ctx),
      },
      ctx,
    );
  }

  /** Upstream event: a CALL from the CMS for the charger. */
  onCall(action: string, msgId: string, params: Payload): Promise<unknown> {
    return this.fromCms(action, msgId, params);
  }

  /** Upstream event: the CMS connection is up; the owed boot goes first, then the queue. */
  async onOpen(client: RPCClient): Promise<void> {
    await this.forwarder.sendOwedBoot(client);
    void this.replay.drain();
  }

  /** Upstream event: chargers waiting for a CMS answer get the local one now rather than after the forward timeout. */
  onLost(): void {
    this.replay.release();
    this.ctx.onCmsLost?.();
  }

  /** Upstream event: a dropped CMS connection is reopened while the charger is here or owes the CMS messages. */
  wantsReconnect(): boolean {
    return !(this.chargerGone && !this.ctx.outbox.hasPending(this.id));
  }

  get online(): boolean {
    return this.upstream.online;
  }

  get disconnected(): boolean {
    return this.chargerGone;
  }

  /** Failed CMS connects since the last success (tests, API). */
  get reconnectAttempts(): number {
    return this.upstream.reconnectAttempts;
  }

  start(): void {
    this.profiles.start();
    // One handler for every action (a handler per action costs a map of closures per socket). The charger's call
    // is checked against the schema here, once (`rpc/schema.ts`); a bad one gets the spec's CALLERROR.
    this.charger.handle(({ method, messageId, params }) => this.fromCharger(method ?? '', messageId, params));
    // A charger that reconnects without booting is configured too.
    this.measure(2000);
    this.charger.on('close', () => this.onChargerClose());
    this.observer.start();
    void this.upstream.connect();
  }

  private fromCharger(action: string, msgId: string | undefined, params: unknown): Promise<Payload> {
    try {
      checkCall(this.protocol, action, params);
    } catch (err) {
      if ((err as { rpcErrorCode?: string }).rpcErrorCode !== 'NotImplemented')
        this.ctx.ownAnswers.invalid(action, err as Error);
      return Promise.reject(err);
    }
    const answer = this.forwarder.fromCharger(action, msgId ?? randomUUID(), (params ?? {}) as Payload);
    if (action === 'BootNotification') answer.then(() => this.measure(0), noop);
    return answer as Promise<Payload>;
  }

  private measureTimer?: ReturnType<LinkContext['clock']['setTimeout']> | null;

  /** Configure the charger's meter values once, after its boot answer has gone out (measurands.ts). */
  private measure(afterMs: number): void {
    if (this.measureTimer === null) return;
    this.ctx.clock.clearTimeout(this.measureTimer ?? undefined);
    this.measureTimer = this.ctx.clock.setTimeout(() => {
      this.measureTimer = null;
      if (this.chargerGone || this.closed) return;
      const { clock, log, bus } = this.ctx;
      void configureMeasurands({
        chargerId: this.id,
        protocol: this.protocol,
        clock,
        log,
        bus,
        send: (a, p) => this.toCharger(a, p),
      });
    }, afterMs);
  }

  /** Close both sides (gateway stopping or charger replaced by a new connection). */
  async close(force = false): Promise<void> {
    this.closed = true;
    this.ctx.clock.clearTimeout(this.measureTimer ?? undefined);
    this.replay.stop();
    this.forwarder.giveUp();
    await Promise.allSettled([
      this.upstream.stop(),
      this.charger.close({ code: 1001, reason: 'gateway going away', force }),
    ]);
  }

  /** Write the gateway's profile for a set-point; resolves only when the charger answers Accepted. */
  async applySetpoint(sp: Setpoint): Promise<void> {
    if (this.chargerGone || this.closed) throw new Error(`${this.id} not connected`);
    await this.profiles.applySetpoint(sp);
  }

  /** Try the queue again now (after parked messages were put back in line). */
  kick(): void {
    this.replay.invalidate();
    void this.replay.drain();
  }

  /** A command from the API (RemoteStart/Stop, ...) sent by the gateway itself. */
  async command(action: string, payload: Payload): Promise<Payload> {
    if (this.chargerGone || this.closed) throw new Error(`${this.id} not connected`);
    return (await this.toCharger(action, payload)) as Payload;
  }

  /** CMS → charger: pass through with the CMS's message id; max profiles are merged with the gateway's. */
  private async fromCms(action: string, msgId: string, params: Payload): Promise<unknown> {
    if (this.chargerGone) throw createRPCError('GenericError', 'charger not connected');
    const mapped = toChargerIds(this.protocol, action, params, (cmsTx) => this.chargerTxOf(cmsTx));
    // Checked on arrival from the CMS (`rpc/schema.ts`); a transaction id swapped for the charger's keeps it valid.
    const passThrough = () => this.toCharger(action, mapped, msgId, true);
    if (action === 'SetChargingProfile' || action === 'ClearChargingProfile') {
      // The gateway may answer these itself (a merged CMS max profile): its answers are checked before they go out.
      const res = await this.profiles.fromCms(action, mapped, passThrough);
      checkAnswer(this.protocol, action, res);
      return res;
    }
    return passThrough();
  }

  /** 1.6: the charger's id of the open session the CMS knows as `cmsTx` (undefined: the same id). */
  private chargerTxOf(cmsTx: number): number | undefined {
    const s = this.ctx.sessions.openByUpstream(this.id, String(cmsTx));
    const tx = s?.chargerTransactionId !== undefined ? Number(s.chargerTransactionId) : undefined;
    return tx !== undefined && Number.isInteger(tx) && tx !== cmsTx ? tx : undefined;
  }

  /** A call on the charger socket; gateway-originated calls get their own message id and never reach the CMS. */
  private async toCharger(
    action: string,
    params: Payload,
    msgId = `gk-${randomUUID()}`,
    checked = false,
  ): Promise<unknown> {
    try {
      return await this.chargerSerial.run(() =>
        callWithId(this.charger, msgId, action, params, {
          clock: this.ctx.clock,
          timeoutMs: this.ctx.cfg.callTimeoutMs,
          ownAnswers: this.ctx.ownAnswers,
          checked,
        }),
      );
    } catch (err) {
      const ce = callErrorOf(err);
      if (ce) throw toRpcError(ce);
      throw createRPCError('InternalError', `charger did not answer: ${(err as Error).message}`);
    }
  }

  private onChargerClose(): void {
    this.chargerGone = true;
    this.forwarder.giveUp();
    this.observer.gone();
    // Keep the CMS link only while it still has queued messages of this charger to deliver.
    if (!this.ctx.outbox.hasPending(this.id) || !this.upstream.online) {
      this.closed = true;
      this.replay.stop();
      void this.upstream.stop(1000);
    }
  }
}
