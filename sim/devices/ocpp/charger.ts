import { randomUUID } from 'node:crypto';
import { RPCClient } from 'ocpp-rpc';
import { callErrorOf, callWithId } from '../../../adapters/ocpp/rpc/call.js';
import { actionsOf, type OcppProtocol } from '../../../adapters/ocpp/rpc/protocol.js';
import { strictValidators } from '../../../adapters/ocpp/rpc/validators.js';
import type { Clock, TimerHandle } from '../../../src/model/clock.js';
import type { PhaseRotation } from '../../../src/model/site.js';
import type { SitePhysics } from '../../site/physics.js';
import type { SimVehicle } from '../../site/vehicle.js';

type Json = Record<string, unknown>;

export interface SimChargerOptions {
  readonly id: string;
  readonly protocol: OcppProtocol;
  /** Base URL of the gateway (or a CMS); the id is appended. */
  readonly url: string;
  readonly clock: Clock;
  readonly password?: string;
  readonly physics?: SitePhysics;
  readonly connectors?: number;
  readonly phaseRotation?: PhaseRotation;
  readonly maxCurrentA?: number;
  readonly voltageV?: number;
  /** MeterValues period, ms (demo: 2000; default 10000). */
  readonly meterIntervalMs?: number;
  /** Physics step, ms. */
  readonly stepMs?: number;
  /** 2.1 only: accepts negative set-points (V2G discharge). */
  readonly bidirectional?: boolean;
  readonly ca?: string;
  readonly vendor?: string;
  readonly model?: string;
  /** End the session (and unplug) when the vehicle is full (default), else stay SuspendedEV until departure. */
  readonly stopWhenFull?: boolean;
  /** Wait for an answer before a queued message is resent, ms. */
  readonly callTimeoutMs?: number;
}

interface Connector {
  readonly id: number;
  vehicle?: SimVehicle;
  idTag?: string;
  /** 1.6 integer id as answered, or the 2.x string id. */
  txId?: number | string;
  txPending: boolean;
  seqNo: number;
  /** Lifetime energy register, Wh. */
  registerWh: number;
  /** Signed power the vehicle takes (+) or feeds (-), W. */
  powerW: number;
  currents: [number, number, number];
  lastStep: number;
  status: string;
  /** Offered current, A (after profiles). */
  offeredA: number;
}

interface Profile {
  readonly id: number;
  readonly purpose: string;
  readonly stackLevel: number;
  readonly connectorId: number;
  readonly unit: 'A' | 'W';
  readonly limit: number;
  readonly setpointW?: number;
}

interface Outgoing {
  readonly msgId: string;
  readonly action: string;
  readonly params: Json;
  readonly resolve: (res: Json | undefined) => void;
}

/**
 * A charger speaking real OCPP-J (1.6J, 2.0.1 or 2.1) on the injected
 * clock: boots, reports status, runs sessions for plugged-in simulated
 * vehicles (Authorize → start → MeterValues → stop when full, on departure
 * or on a remote stop), follows the charging profiles it is sent and
 * reports its draw to the site physics. Like a real charger it keeps
 * transaction messages in a queue while the link is down and resends them,
 * with the same message id, until they are answered.
 */
export class SimCharger {
  readonly connectors: Connector[];
  readonly profiles: Profile[] = [];
  readonly received: Array<{ action: string; params: Json }> = [];
  /** Every call the other side answered, in order (message id, action): what the charger may forget. */
  readonly acked: Array<{ msgId: string; action: string; params: Json }> = [];
  private client?: RPCClient;
  private readonly queue: Outgoing[] = [];
  private flushing = false;
  private meterTimer?: TimerHandle;
  private stepTimer?: TimerHandle;
  private retryTimer?: TimerHandle;
  private stopped = false;
  booted = false;

  constructor(readonly opts: SimChargerOptions) {
    const now = opts.clock.now();
    this.connectors = Array.from({ length: opts.connectors ?? 1 }, (_, i) => ({
      id: i + 1,
      txPending: false,
      seqNo: 0,
      registerWh: 1_000_000 * (i + 1),
      powerW: 0,
      currents: [0, 0, 0] as [number, number, number],
      lastStep: now,
      status: 'Available',
      offeredA: opts.maxCurrentA ?? 32,
    }));
  }

  get id(): string {
    return this.opts.id;
  }

  get v16(): boolean {
    return this.opts.protocol === 'ocpp1.6';
  }

  get connected(): boolean {
    return this.client?.state === 1;
  }

  async start(): Promise<void> {
    this.stopped = false;
    const client = new RPCClient({
      identity: this.opts.id,
      endpoint: this.opts.url.replace(/\/+$/, ''),
      protocols: [this.opts.protocol],
      strictMode: true,
      strictModeValidators: strictValidators(),
      reconnect: true,
      maxReconnects: Number.POSITIVE_INFINITY,
      pingIntervalMs: 0,
      callTimeoutMs: this.opts.callTimeoutMs ?? 10_000,
      backoff: { initialDelay: 50, maxDelay: 500, factor: 2, randomisationFactor: 0.25 },
      ...(this.opts.password !== undefined ? { password: this.opts.password } : {}),
      ...(this.opts.ca ? { wsOpts: { ca: this.opts.ca } } : {}),
    } as ConstructorParameters<typeof RPCClient>[0]);
    client.on('error', () => {});
    client.on('socketError', () => {});
    for (const action of actionsOf(this.opts.protocol)) {
      client.handle(action, async ({ params }) => this.onCall(action, (params ?? {}) as Json));
    }
    client.on('open', () => {
      void this.onOpen();
    });
    this.client = client;
    await client.connect();
    const meterMs = this.opts.meterIntervalMs ?? 10_000;
    this.meterTimer = this.opts.clock.setInterval(() => this.sendMeterValues(), meterMs);
    this.stepTimer = this.opts.clock.setInterval(() => this.step(), this.opts.stepMs ?? 1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.opts.clock.clearInterval(this.meterTimer);
    this.opts.clock.clearInterval(this.stepTimer);
    this.opts.clock.clearTimeout(this.retryTimer);
    for (const c of this.connectors) this.opts.physics?.removeLoad(this.loadId(c));
    await this.client?.close({ force: true });
    this.client = undefined;
  }

  private async onOpen(): Promise<void> {
    if (!this.booted) {
      const res = await this.request('BootNotification', this.bootPayload());
      this.booted = res?.status === 'Accepted';
      for (const c of this.connectors) this.sendStatus(c);
    }
    void this.flush();
  }

  private bootPayload(): Json {
    const vendor = this.opts.vendor ?? 'gridkeeper-sim';
    const model = this.opts.model ?? `sim-${this.opts.protocol}`;
    return this.v16
      ? { chargePointVendor: vendor, chargePointModel: model }
      : { reason: 'PowerUp', chargingStation: { vendorName: vendor, model } };
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
    const auth = await this.request('Authorize', this.v16 ? { idTag } : { idToken: this.token(idTag) });
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

  private async startTransaction(c: Connector): Promise<void> {
    if (c.txId !== undefined || c.txPending || !c.vehicle) return;
    c.txPending = true;
    const now = new Date(this.opts.clock.now()).toISOString();
    if (this.v16) {
      const res = await this.request('StartTransaction', {
        connectorId: c.id,
        idTag: c.idTag ?? 'unknown',
        meterStart: Math.round(c.registerWh),
        timestamp: now,
      });
      c.txId = res?.transactionId as number | undefined;
    } else {
      c.txId = randomUUID();
      c.seqNo = 0;
      void this.request('TransactionEvent', {
        eventType: 'Started',
        timestamp: now,
        triggerReason: 'Authorized',
        seqNo: c.seqNo++,
        transactionInfo: { transactionId: c.txId, chargingState: 'Charging' },
        idToken: this.token(c.idTag ?? 'unknown'),
        evse: { id: c.id, connectorId: 1 },
        meterValue: [this.meterValue(c, 'Transaction.Begin')],
      });
    }
    c.txPending = false;
    this.setStatus(c, this.v16 ? 'Charging' : 'Occupied');
    c.vehicle?.offer(this.effectiveLimitA(c), this.opts.clock.now());
  }

  private async stopTransaction(c: Connector, reason: string): Promise<void> {
    if (c.txId === undefined) return;
    const txId = c.txId;
    c.txId = undefined;
    const now = new Date(this.opts.clock.now()).toISOString();
    if (this.v16) {
      this.setStatus(c, 'Finishing');
      await this.request('StopTransaction', {
        transactionId: txId as number,
        meterStop: Math.round(c.registerWh),
        timestamp: now,
        reason,
      });
    } else {
      await this.request('TransactionEvent', {
        eventType: 'Ended',
        timestamp: now,
        triggerReason: reason === 'Remote' ? 'RemoteStop' : 'EVDeparted',
        seqNo: c.seqNo++,
        transactionInfo: { transactionId: txId as string, chargingState: 'Idle', stoppedReason: reason },
        evse: { id: c.id, connectorId: 1 },
        meterValue: [this.meterValue(c, 'Transaction.End')],
      });
    }
  }

  private async notifyNeeds(c: Connector, v: SimVehicle): Promise<void> {
    const bpt = this.opts.protocol === 'ocpp2.1' && this.opts.bidirectional && v.spec.bidirectional;
    const departure =
      v.spec.departureAt !== undefined ? { departureTime: new Date(v.spec.departureAt).toISOString() } : {};
    await this.request('NotifyEVChargingNeeds', {
      evseId: c.id,
      chargingNeeds: {
        requestedEnergyTransfer: bpt ? 'AC_BPT' : v.spec.phases === 3 ? 'AC_three_phase' : 'AC_single_phase',
        ...departure,
        acChargingParameters: {
          energyAmount: v.spec.neededWh ?? 0,
          evMinCurrent: v.spec.minCurrentA ?? 6,
          evMaxCurrent: v.spec.maxCurrentA,
          evMaxVoltage: 400,
        },
      },
    });
  }

  // ------------------------------------------------------------ physics and meter

  private step(): void {
    const now = this.opts.clock.now();
    const V = this.opts.voltageV ?? 230;
    for (const c of this.connectors) {
      const dtH = Math.max(0, now - c.lastStep) / 3_600_000;
      c.lastStep = now;
      // Energy register counts imported energy only (Energy.Active.Import.Register).
      if (c.powerW > 0) c.registerWh += c.powerW * dtH;
      const v = c.vehicle;
      if (!v || c.txId === undefined) continue;
      const v2g = this.v2gSetpointW(c);
      if (v2g !== undefined && v2g < 0 && v.spec.bidirectional) {
        v.step(now, V);
        c.powerW = v2g;
        const a = -v2g / (v.spec.phases * V);
        c.currents = v.spec.phases === 3 ? [a, a, a] : [a, 0, 0];
      } else {
        v.step(now, V);
        c.powerW = v.powerW(V);
        c.currents = [...v.phaseCurrents()] as [number, number, number];
      }
      this.opts.physics?.setLoad(this.loadId(c), c.powerW, c.currents, this.opts.phaseRotation);
      if (v.spec.departureAt !== undefined && now >= v.spec.departureAt) {
        void this.unplug(c.id, 'EVDisconnected');
      } else if (v.full && (this.opts.stopWhenFull ?? true)) {
        // The vehicle ends the session when its battery is full and is driven away.
        void this.unplug(c.id, 'EVDisconnected');
      } else if (v.full && c.status !== 'SuspendedEV') {
        this.setStatus(c, this.v16 ? 'SuspendedEV' : 'Occupied');
      }
    }
  }

  private meterValue(c: Connector, context: string): Json {
    const ts = new Date(this.opts.clock.now()).toISOString();
    const w = Math.round(c.powerW);
    const [l1, l2, l3] = c.currents.map((x) => Math.round(x * 10) / 10) as [number, number, number];
    if (this.v16) {
      return {
        timestamp: ts,
        sampledValue: [
          { value: String(Math.max(0, w)), measurand: 'Power.Active.Import', unit: 'W', context },
          { value: String(l1), measurand: 'Current.Import', phase: 'L1', unit: 'A', context },
          { value: String(l2), measurand: 'Current.Import', phase: 'L2', unit: 'A', context },
          { value: String(l3), measurand: 'Current.Import', phase: 'L3', unit: 'A', context },
          { value: String(Math.round(c.registerWh)), measurand: 'Energy.Active.Import.Register', unit: 'Wh', context },
        ],
      };
    }
    const sv = [
      { value: Math.max(0, w), measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'W' }, context },
      { value: l1, measurand: 'Current.Import', phase: 'L1', unitOfMeasure: { unit: 'A' }, context },
      { value: l2, measurand: 'Current.Import', phase: 'L2', unitOfMeasure: { unit: 'A' }, context },
      { value: l3, measurand: 'Current.Import', phase: 'L3', unitOfMeasure: { unit: 'A' }, context },
      {
        value: Math.round(c.registerWh),
        measurand: 'Energy.Active.Import.Register',
        unitOfMeasure: { unit: 'Wh' },
        context,
      },
    ];
    if (w < 0) sv.push({ value: -w, measurand: 'Power.Active.Export', unitOfMeasure: { unit: 'W' }, context });
    return { timestamp: ts, sampledValue: sv };
  }

  /** Periodic MeterValues (1.6) or TransactionEvent Updated (2.x) for charging connectors. */
  sendMeterValues(): void {
    if (!this.booted) return;
    for (const c of this.connectors) {
      if (c.txId === undefined) continue;
      if (this.v16) {
        void this.request('MeterValues', {
          connectorId: c.id,
          transactionId: c.txId as number,
          meterValue: [this.meterValue(c, 'Sample.Periodic')],
        });
      } else {
        void this.request('TransactionEvent', {
          eventType: 'Updated',
          timestamp: new Date(this.opts.clock.now()).toISOString(),
          triggerReason: 'MeterValuePeriodic',
          seqNo: c.seqNo++,
          transactionInfo: {
            transactionId: c.txId as string,
            chargingState: c.powerW === 0 ? 'SuspendedEV' : 'Charging',
          },
          evse: { id: c.id, connectorId: 1 },
          meterValue: [this.meterValue(c, 'Sample.Periodic')],
        });
      }
    }
  }

  // ------------------------------------------------------------ profiles

  /** The limit the charger enforces now: minimum of the highest-stack max profile and the applicable tx profile. */
  effectiveLimitA(c: Connector): number {
    const V = this.opts.voltageV ?? 230;
    const phases = c.vehicle?.spec.phases ?? 3;
    const toA = (p: Profile) => (p.unit === 'W' ? p.limit / (phases * V) : p.limit);
    const top = (ps: Profile[]) => ps.sort((a, b) => b.stackLevel - a.stackLevel)[0];
    const maxP = top(this.profiles.filter((p) => p.purpose.endsWith('MaxProfile')));
    const txP =
      top(this.profiles.filter((p) => p.purpose === 'TxProfile' && p.connectorId === c.id)) ??
      top(
        this.profiles.filter(
          (p) => p.purpose === 'TxDefaultProfile' && (p.connectorId === c.id || p.connectorId === 0),
        ),
      );
    let limit = this.opts.maxCurrentA ?? 32;
    if (maxP) limit = Math.min(limit, toA(maxP));
    if (txP) limit = Math.min(limit, toA(txP));
    return Math.max(0, limit);
  }

  /** The discharge set-point (W, negative) a connector follows now, if a V2G profile is in force. */
  dischargeSetpointW(connectorId = 1): number | undefined {
    return this.v2gSetpointW(this.connector(connectorId));
  }

  private v2gSetpointW(c: Connector): number | undefined {
    const p = this.profiles
      .filter((x) => x.setpointW !== undefined && (x.connectorId === c.id || x.connectorId === 0))
      .sort((a, b) => b.stackLevel - a.stackLevel)[0];
    return p?.setpointW;
  }

  /** Limit currently offered to a connector's vehicle, A. */
  offered(connectorId = 1): number {
    return this.connector(connectorId).offeredA;
  }

  private applyProfiles(): void {
    for (const c of this.connectors) {
      const a = this.effectiveLimitA(c);
      c.offeredA = a;
      c.vehicle?.offer(a, this.opts.clock.now());
    }
  }

  private setProfile(p: Json): Json {
    if (this.v16) {
      const cp = p.csChargingProfiles as Json;
      const sched = cp.chargingSchedule as { chargingRateUnit: 'A' | 'W'; chargingSchedulePeriod: Json[] };
      const period = sched.chargingSchedulePeriod[0] ?? {};
      this.putProfile({
        id: cp.chargingProfileId as number,
        purpose: cp.chargingProfilePurpose as string,
        stackLevel: cp.stackLevel as number,
        connectorId: p.connectorId as number,
        unit: sched.chargingRateUnit,
        limit: period.limit as number,
      });
    } else {
      const cp = p.chargingProfile as Json;
      const sched = (cp.chargingSchedule as Array<{ chargingRateUnit: 'A' | 'W'; chargingSchedulePeriod: Json[] }>)[0];
      const period = sched?.chargingSchedulePeriod[0] ?? {};
      if (period.setpoint !== undefined && (period.setpoint as number) < 0 && !this.opts.bidirectional) {
        return { status: 'Rejected' };
      }
      this.putProfile({
        id: cp.id as number,
        purpose: cp.chargingProfilePurpose as string,
        stackLevel: cp.stackLevel as number,
        connectorId: p.evseId as number,
        unit: sched?.chargingRateUnit ?? 'A',
        limit: (period.limit as number | undefined) ?? Number.POSITIVE_INFINITY,
        ...(period.setpoint !== undefined ? { setpointW: period.setpoint as number } : {}),
      });
    }
    this.applyProfiles();
    return { status: 'Accepted' };
  }

  private putProfile(p: Profile): void {
    // A profile with the same id, or the same purpose and stack level on the same connector, replaces the old one.
    for (let i = this.profiles.length - 1; i >= 0; i--) {
      const q = this.profiles[i] as Profile;
      if (
        q.id === p.id ||
        (q.purpose === p.purpose && q.stackLevel === p.stackLevel && q.connectorId === p.connectorId)
      ) {
        this.profiles.splice(i, 1);
      }
    }
    this.profiles.push(p);
  }

  // ------------------------------------------------------------ CMS / gateway → charger

  private async onCall(action: string, p: Json): Promise<Json> {
    this.received.push({ action, params: p });
    switch (action) {
      case 'SetChargingProfile':
        return this.setProfile(p);
      case 'ClearChargingProfile': {
        const id = (this.v16 ? p.id : p.chargingProfileId) as number | undefined;
        const before = this.profiles.length;
        for (let i = this.profiles.length - 1; i >= 0; i--) {
          if (id === undefined || this.profiles[i]?.id === id) this.profiles.splice(i, 1);
        }
        this.applyProfiles();
        return { status: this.profiles.length < before ? 'Accepted' : 'Unknown' };
      }
      case 'RemoteStartTransaction':
      case 'RequestStartTransaction': {
        const connectorId = ((this.v16 ? p.connectorId : p.evseId) as number | undefined) ?? 1;
        const c = this.connectors.find((x) => x.id === connectorId);
        if (!c?.vehicle || c.txId !== undefined) return { status: 'Rejected' };
        c.idTag = this.v16 ? (p.idTag as string) : ((p.idToken as Json).idToken as string);
        this.opts.clock.setTimeout(() => void this.startTransaction(c), 0);
        return { status: 'Accepted' };
      }
      case 'RemoteStopTransaction':
      case 'RequestStopTransaction': {
        const c = this.connectors.find((x) => x.txId !== undefined && String(x.txId) === String(p.transactionId));
        if (!c) return { status: 'Rejected' };
        this.opts.clock.setTimeout(() => void this.unplug(c.id, 'Remote'), 0);
        return { status: 'Accepted' };
      }
      case 'ChangeAvailability':
      case 'Reset':
      case 'UnlockConnector':
      case 'ChangeConfiguration':
      case 'SetVariables':
        return this.genericStatus(action);
      case 'TriggerMessage':
        this.opts.clock.setTimeout(() => this.trigger(p.requestedMessage as string), 0);
        return { status: 'Accepted' };
      case 'DataTransfer':
        return { status: 'Accepted' };
      case 'GetConfiguration':
        return { configurationKey: [{ key: 'MeterValueSampleInterval', readonly: false, value: '10' }] };
      default:
        return this.genericStatus(action);
    }
  }

  private genericStatus(action: string): Json {
    if (action === 'UnlockConnector') return { status: this.v16 ? 'Unlocked' : 'Unlocked' };
    if (action === 'SetVariables') return { setVariableResult: [] };
    return { status: 'Accepted' };
  }

  private trigger(what: string): void {
    if (what === 'MeterValues') this.sendMeterValues();
    else if (what === 'StatusNotification') for (const c of this.connectors) this.sendStatus(c);
    else if (what === 'Heartbeat') void this.request('Heartbeat', {});
    else if (what === 'BootNotification') void this.request('BootNotification', this.bootPayload());
  }

  // ------------------------------------------------------------ sending

  private setStatus(c: Connector, status: string): void {
    c.status = status;
    this.sendStatus(c);
  }

  private sendStatus(c: Connector): void {
    if (!this.booted) return;
    const ts = new Date(this.opts.clock.now()).toISOString();
    if (this.v16) {
      void this.request('StatusNotification', {
        connectorId: c.id,
        errorCode: 'NoError',
        status: c.status,
        timestamp: ts,
      });
    } else {
      const status = c.vehicle ? 'Occupied' : c.status === 'Occupied' ? 'Occupied' : 'Available';
      void this.request('StatusNotification', { timestamp: ts, connectorStatus: status, evseId: c.id, connectorId: 1 });
    }
  }

  private token(idTag: string): Json {
    return { idToken: idTag, type: 'ISO14443' };
  }

  /**
   * Send a call and wait for its answer. Calls are sent one at a time in
   * order; while the link is down they wait and are then resent with the
   * same message id (transaction messages must not be lost).
   */
  request(action: string, params: Json): Promise<Json | undefined> {
    return new Promise((resolve) => {
      this.queue.push({ msgId: randomUUID(), action, params, resolve });
      void this.flush();
    });
  }

  /** Messages sent but not yet answered. */
  get backlog(): number {
    return this.queue.length;
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (!this.stopped && this.queue.length > 0) {
        const client = this.client;
        if (client?.state !== 1) return;
        const next = this.queue[0] as Outgoing;
        try {
          const res = await callWithId(client, next.msgId, next.action, next.params, {
            clock: this.opts.clock,
            timeoutMs: this.opts.callTimeoutMs ?? 10_000,
          });
          this.queue.shift();
          this.acked.push({ msgId: next.msgId, action: next.action, params: next.params });
          next.resolve(res as Json);
        } catch (err) {
          if (callErrorOf(err)) {
            // The other side refused it: a real charger drops it rather than block its queue.
            this.queue.shift();
            next.resolve(undefined);
            continue;
          }
          if (this.stopped) return;
          // Not answered: resend after the link is back (or after a short pause on a timeout).
          this.opts.clock.clearTimeout(this.retryTimer);
          this.retryTimer = this.opts.clock.setTimeout(() => void this.flush(), 200);
          return;
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private connector(id: number): Connector {
    const c = this.connectors.find((x) => x.id === id);
    if (!c) throw new Error(`${this.opts.id}: no connector ${id}`);
    return c;
  }

  private loadId(c: Connector): string {
    return `${this.opts.id}/${c.id}`;
  }
}
