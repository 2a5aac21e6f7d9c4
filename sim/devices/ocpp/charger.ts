import { randomUUID } from 'node:crypto';
import type { Clock, TimerHandle } from '../../../src/model/clock.js';
import type { PhaseRotation } from '../../../src/model/site.js';
import type { SitePhysics } from '../../site/physics.js';
import type { SimVehicle } from '../../site/vehicle.js';
import { handleCall } from './commands.js';
import { ChargerConfig, FACTORY_MEASURANDS } from './config.js';
import { type Connector, chargingState, newConnector, offer, readingOf, stepConnector } from './connector.js';
import { ChargerLink } from './link.js';
import { bootPayload, idToken, needsPayload, statusPayload, txEvent } from './messages.js';
import { meterValue } from './meter.js';
import { type Profile, ProfileStore } from './profiles.js';
import { type AckedCall, CallQueue } from './queue.js';
import type { Json, OcppVersion } from './wire.js';

export interface SimChargerOptions {
  readonly id: string;
  readonly protocol: OcppVersion;
  /** Base URL of the gateway (or a CMS); the id is appended. */
  readonly url: string;
  readonly clock: Clock;
  readonly password?: string;
  readonly physics?: SitePhysics;
  readonly connectors?: number;
  readonly phaseRotation?: PhaseRotation;
  readonly maxCurrentA?: number;
  readonly voltageV?: number;
  /** Overrides the factory MeterValueSampleInterval / TxUpdatedInterval (60 s), ms. */
  readonly meterIntervalMs?: number;
  /** Overrides the factory sampled measurands (1.6 notation, e.g. `Current.Import`, `Power.Active.Import.L1`). */
  readonly sampledData?: readonly string[];
  /** Physics step, ms. */
  readonly stepMs?: number;
  /** 2.1 only: accepts negative set-points (V2G discharge). */
  readonly bidirectional?: boolean;
  /** Trusted CA for wss:// (PEM). */
  readonly ca?: string;
  readonly vendor?: string;
  readonly model?: string;
  /** End the session (and unplug) when the vehicle is full (default), else stay SuspendedEV until departure. */
  readonly stopWhenFull?: boolean;
  /** Wait for an answer before a queued message is resent, ms. */
  readonly callTimeoutMs?: number;
}

export type { Connector };

/**
 * A charger speaking OCPP-J (1.6J, 2.0.1, 2.1) with its own codec, on the
 * injected clock: boots, reports status, runs sessions for plugged-in
 * vehicles, follows its charging profiles and reports its draw to the site
 * physics. It behaves like one out of the box: un-phased energy and power
 * every 60 s until configured otherwise (ChangeConfiguration /
 * SetVariables), SuspendedEV / SuspendedEVSE as the vehicle and the limit
 * dictate, and transaction messages kept and resent with the same message
 * id until answered.
 */
export class SimCharger {
  readonly connectors: Connector[];
  readonly config: ChargerConfig;
  readonly received: Array<{ action: string; params: Json }> = [];
  private readonly store = new ProfileStore();
  private readonly link: ChargerLink;
  private readonly queue: CallQueue;
  private meterTimer?: TimerHandle;
  private meterEveryMs = 0;
  private stepTimer?: TimerHandle;
  booted = false;

  constructor(readonly opts: SimChargerOptions) {
    const now = opts.clock.now();
    const n = opts.connectors ?? 1;
    this.connectors = Array.from({ length: n }, (_, i) => newConnector(i + 1, now, opts.maxCurrentA ?? 32));
    // A V2G charger's meter reports export out of the box as well.
    const factory = FACTORY_MEASURANDS.split(',');
    const bidi = opts.bidirectional ? ['Energy.Active.Export.Register', 'Power.Active.Export'] : [];
    this.config = new ChargerConfig({
      version: opts.protocol,
      connectors: n,
      measurands: opts.sampledData ?? [...factory, ...bidi],
      ...(opts.meterIntervalMs !== undefined ? { intervalMs: opts.meterIntervalMs } : {}),
    });
    this.link = new ChargerLink({
      url: opts.url,
      id: opts.id,
      protocol: opts.protocol,
      clock: opts.clock,
      onCall: async (action, params) => {
        this.received.push({ action, params });
        return handleCall(this, action, params);
      },
      onOpen: () => void this.onOpen(),
      ...(opts.password !== undefined ? { password: opts.password } : {}),
      ...(opts.ca ? { ca: opts.ca } : {}),
      ...(opts.callTimeoutMs !== undefined ? { callTimeoutMs: opts.callTimeoutMs } : {}),
    });
    this.queue = new CallQueue({
      clock: opts.clock,
      peer: () => this.link.current,
      ...(opts.callTimeoutMs !== undefined ? { callTimeoutMs: opts.callTimeoutMs } : {}),
    });
  }

  get id(): string {
    return this.opts.id;
  }

  get v16(): boolean {
    return this.opts.protocol === 'ocpp1.6';
  }

  get connected(): boolean {
    return this.link.connected;
  }

  /** Charging profiles installed, in the order received. */
  get profiles(): readonly Profile[] {
    return this.store.list;
  }

  /** Every call the other side answered, in order (message id, action): what the charger may forget. */
  get acked(): readonly AckedCall[] {
    return this.queue.acked;
  }

  /** Messages sent but not yet answered. */
  get backlog(): number {
    return this.queue.length;
  }

  async start(): Promise<void> {
    this.queue.start();
    await this.link.start();
    this.applySampling();
    this.stepTimer = this.opts.clock.setInterval(() => this.step(), this.opts.stepMs ?? 1000);
  }

  async stop(): Promise<void> {
    this.queue.stop();
    this.opts.clock.clearInterval(this.meterTimer);
    this.opts.clock.clearInterval(this.stepTimer);
    this.meterEveryMs = 0;
    for (const c of this.connectors) this.opts.physics?.removeLoad(this.loadId(c));
    await this.link.stop();
  }

  /**
   * Send a call and wait for its answer. Calls go one at a time in order;
   * while the link is down they wait and are then resent with the same
   * message id. Resolves undefined when the other side answers a CALLERROR.
   */
  request(action: string, params: Json): Promise<Json | undefined> {
    return this.queue.push(action, params);
  }

  /** Send one call now, outside the queue, under a chosen message id (tests of the receiver's duplicate handling). */
  callWithId(messageId: string, action: string, params: Json): Promise<Json> {
    const peer = this.link.current;
    if (!peer) return Promise.reject(new Error(`${this.id}: not connected`));
    return peer.call(action, params, messageId, this.opts.callTimeoutMs);
  }

  /** (Re)arm the sampled meter values after the configuration changed. */
  applySampling(): void {
    const { intervalMs } = this.config.sampled();
    if (intervalMs === this.meterEveryMs && this.meterTimer) return;
    this.opts.clock.clearInterval(this.meterTimer);
    this.meterTimer = undefined;
    this.meterEveryMs = intervalMs;
    if (intervalMs > 0) this.meterTimer = this.opts.clock.setInterval(() => this.sendMeterValues(), intervalMs);
  }

  private async onOpen(): Promise<void> {
    if (!this.booted) {
      const res = await this.request('BootNotification', this.bootPayload());
      this.booted = res?.status === 'Accepted';
      for (const c of this.connectors) this.sendStatus(c);
    }
    void this.queue.flush();
  }

  bootPayload(): Json {
    const o = this.opts;
    return bootPayload(o.protocol, o.vendor ?? 'gridkeeper-sim', o.model ?? `sim-${o.protocol}`);
  }

  // ------------------------------------------------------------ session lifecycle

  /** A vehicle plugs in; the session starts after authorisation. Resolves when the start was answered. */
  async plugIn(vehicle: SimVehicle, idTag: string, connectorId = 1): Promise<void> {
    const c = this.connector(connectorId);
    c.vehicle = vehicle;
    c.idTag = idTag;
    c.lastStep = this.opts.clock.now();
    this.setStatus(c, this.v16 ? 'Preparing' : 'Occupied');
    if (!this.v16 && vehicle.spec.neededWh !== undefined) void this.notifyNeeds(c, vehicle);
    const auth = await this.request('Authorize', this.v16 ? { idTag } : { idToken: idToken(idTag) });
    const status = this.v16
      ? (auth?.idTagInfo as Json | undefined)?.status
      : (auth?.idTokenInfo as Json | undefined)?.status;
    if (auth && status !== 'Accepted') return;
    await this.startTransaction(c);
  }

  /** The vehicle leaves (or the driver stops): the transaction ends. */
  async unplug(connectorId = 1, reason = 'EVDisconnected'): Promise<void> {
    const c = this.connector(connectorId);
    await this.stopTransaction(c, reason);
    c.vehicle = undefined;
    c.idTag = undefined;
    c.powerW = 0;
    c.currents = [0, 0, 0];
    this.opts.physics?.setLoad(this.loadId(c), 0, [0, 0, 0], this.opts.phaseRotation);
    this.setStatus(c, 'Available');
  }

  async startTransaction(c: Connector): Promise<void> {
    if (c.txId !== undefined || c.txPending || !c.vehicle) return;
    c.txPending = true;
    const now = this.opts.clock.now();
    c.txStartedAt = now;
    offer(c, this.effectiveLimitA(c), now);
    const state = this.chargingState(c);
    if (this.v16) {
      const res = await this.request('StartTransaction', {
        connectorId: c.id,
        idTag: c.idTag ?? 'unknown',
        meterStart: Math.round(c.registerWh),
        timestamp: this.iso(),
      });
      c.txId = res?.transactionId as number | undefined;
    } else {
      c.txId = randomUUID();
      c.seqNo = 0;
      c.chargingState = state;
      void this.request('TransactionEvent', {
        ...txEvent(c, 'Started', 'Authorized', state, this.iso()),
        idToken: idToken(c.idTag ?? 'unknown'),
        meterValue: [this.reading(c, 'Transaction.Begin', 'Energy.Active.Import.Register')],
      });
    }
    c.txPending = false;
    if (this.v16) this.setStatus(c, state);
  }

  private async stopTransaction(c: Connector, reason: string): Promise<void> {
    if (c.txId === undefined) return;
    const txId = c.txId;
    if (this.v16) {
      c.txId = undefined;
      this.setStatus(c, 'Finishing');
      await this.request('StopTransaction', {
        transactionId: txId as number,
        meterStop: Math.round(c.registerWh),
        timestamp: this.iso(),
        reason,
      });
      return;
    }
    const ev = txEvent(c, 'Ended', reason === 'Remote' ? 'RemoteStop' : 'EVDeparted', 'Idle', this.iso());
    c.txId = undefined;
    await this.request('TransactionEvent', {
      ...ev,
      transactionInfo: { ...(ev.transactionInfo as Json), stoppedReason: reason },
      meterValue: [this.reading(c, 'Transaction.End', 'Energy.Active.Import.Register')],
    });
  }

  private async notifyNeeds(c: Connector, v: SimVehicle): Promise<void> {
    const o = this.opts;
    await this.request('NotifyEVChargingNeeds', needsPayload(o.protocol, o.bidirectional ?? false, c, v, this.iso));
  }

  // ------------------------------------------------------------ physics, limits and state

  private step(): void {
    const now = this.opts.clock.now();
    for (const c of this.connectors) {
      const v = c.vehicle;
      // Profiles with a schedule or a validTo change the limit on their own.
      const limit = this.effectiveLimitA(c);
      if (v && c.txId !== undefined && limit !== c.offeredA) offer(c, limit, now);
      stepConnector(c, now, this.opts.voltageV ?? 230, this.v2gSetpointW(c));
      if (!v || c.txId === undefined) continue;
      this.opts.physics?.setLoad(this.loadId(c), c.powerW, c.currents, this.opts.phaseRotation);
      if (v.spec.departureAt !== undefined && now >= v.spec.departureAt) {
        void this.unplug(c.id, 'EVDisconnected');
      } else if (v.full && (this.opts.stopWhenFull ?? true)) {
        // The vehicle ends the session when its battery is full and is driven away.
        void this.unplug(c.id, 'EVDisconnected');
      } else {
        this.reportState(c);
      }
    }
  }

  private chargingState = (c: Connector) => chargingState(c, this.opts.clock.now(), (this.v2gSetpointW(c) ?? 0) < 0);

  private reportState(c: Connector): void {
    const state = this.chargingState(c);
    if (this.v16) {
      if (state !== c.status) this.setStatus(c, state);
    } else if (state !== c.chargingState) {
      c.chargingState = state;
      void this.request('TransactionEvent', txEvent(c, 'Updated', 'ChargingStateChanged', state, this.iso()));
    }
  }

  /** The limit the charger enforces now: minimum of the max profile and the applicable tx profile. */
  effectiveLimitA(c: Connector): number {
    const V = this.opts.voltageV ?? 230;
    const phases = c.vehicle?.spec.phases ?? 3;
    const toA = (p: Profile, limit: number) => (p.unit === 'W' ? limit / (phases * V) : limit);
    const limit = this.store.limitA(c.id, this.opts.clock.now(), toA, c.txStartedAt);
    return Math.max(0, Math.min(this.opts.maxCurrentA ?? 32, limit ?? Number.POSITIVE_INFINITY));
  }

  /** The discharge set-point (W, negative) a connector follows now, if a V2G profile is in force. */
  dischargeSetpointW(connectorId = 1): number | undefined {
    return this.v2gSetpointW(this.connector(connectorId));
  }

  private v2gSetpointW(c: Connector): number | undefined {
    return this.store.setpointW(c.id, this.opts.clock.now(), c.txStartedAt);
  }

  /** Limit currently offered to a connector's vehicle, A. */
  offered(connectorId = 1): number {
    return this.connector(connectorId).offeredA;
  }

  /** Written by the command handler (SetChargingProfile / ClearChargingProfile). */
  get profileStore(): ProfileStore {
    return this.store;
  }

  /** Re-evaluate every connector's limit after the profiles changed. */
  applyProfiles(): void {
    for (const c of this.connectors) {
      const a = this.effectiveLimitA(c);
      if (a !== c.offeredA) offer(c, a, this.opts.clock.now());
    }
  }

  // ------------------------------------------------------------ meter values and status

  private reading(c: Connector, context: string, only?: string): Json {
    const specs = only ? [{ measurand: only }] : this.config.sampled().measurands;
    return meterValue(this.opts.protocol, specs, readingOf(c, this.opts.voltageV ?? 230), context, this.iso());
  }

  /** Periodic MeterValues (1.6) or TransactionEvent Updated (2.x) for connectors in a transaction. */
  sendMeterValues(context = 'Sample.Periodic', connectorId?: number): void {
    if (!this.booted) return;
    const trigger = context === 'Trigger';
    for (const c of this.connectors) {
      if (connectorId !== undefined && connectorId !== 0 && c.id !== connectorId) continue;
      if (c.txId === undefined && !trigger) continue;
      const mv = this.reading(c, context);
      const values = (mv.sampledValue as unknown[]).length > 0 ? { meterValue: [mv] } : undefined;
      if (this.v16) {
        if (!values) continue;
        const tx = c.txId !== undefined ? { transactionId: c.txId as number } : {};
        void this.request('MeterValues', { connectorId: c.id, ...tx, ...values });
      } else if (c.txId === undefined) {
        if (values) void this.request('MeterValues', { evseId: c.id, ...values });
      } else {
        const state = this.chargingState(c);
        c.chargingState = state;
        const reason = trigger ? 'Trigger' : 'MeterValuePeriodic';
        void this.request('TransactionEvent', { ...txEvent(c, 'Updated', reason, state, this.iso()), ...values });
      }
    }
  }

  private setStatus(c: Connector, status: string): void {
    c.status = status;
    this.sendStatus(c);
  }

  sendStatus(c: Connector): void {
    if (this.booted) void this.request('StatusNotification', statusPayload(this.opts.protocol, c, this.iso()));
  }

  private readonly iso = (at = this.opts.clock.now()): string => new Date(at).toISOString();

  connector(id: number): Connector {
    const c = this.connectors.find((x) => x.id === id);
    if (!c) throw new Error(`${this.opts.id}: no connector ${id}`);
    return c;
  }

  private loadId(c: Connector): string {
    return `${this.opts.id}/${c.id}`;
  }
}
