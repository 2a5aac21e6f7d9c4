/**
 * An OCPP 1.6J charger as it leaves the factory, for the closed-loop site:
 * one 3-phase 32 A connector; out of the box it samples only the un-phased
 * energy register and active power every 60 s (MeterValueSampleInterval 60,
 * MeterValuesSampledData "Energy.Active.Import.Register,Power.Active.Import").
 * It honours ChangeConfiguration of those keys (and refuses measurands it
 * does not have), answers GetConfiguration with what it really uses, and
 * sends per-phase Current.Import (L1..L3) only when asked to. Its vehicle
 * follows a new profile limit `lagMs` later and may draw `overdrawA` above
 * it. Written from the OCPP 1.6 spec; imports nothing of the gateway.
 */
import { WebSocket } from 'ws';
import { monoMs } from './clock.js';
import { Endpoint, type Json } from './ocpp-wire.js';

export interface SiteChargerOptions {
  readonly url: string;
  readonly id: string;
  /** The vehicle follows a new limit this much later, ms. */
  readonly lagMs: number;
  /** The vehicle draws this much above its limit, A. */
  readonly overdrawA: number;
  readonly vehicleMaxA: number;
  readonly onProfile: (c: SiteCharger, limitA: number, at: number) => void;
  readonly onDraw: () => void;
}

const MEASURANDS = new Set([
  'Energy.Active.Import.Register',
  'Power.Active.Import',
  'Current.Import',
  'Current.Offered',
  'Voltage',
]);
const VOLTS = 230;

const isoNow = () => new Date().toISOString();

export class SiteCharger {
  readonly id: string;
  /** The limit of the last profile, A (the charger applies it at once; the vehicle follows later). */
  limitA: number | undefined;
  /** What the vehicle draws per phase now, A. */
  drawA = 0;
  profiles = 0;
  txId: number | undefined;
  private energyWh = 0;
  private readonly config = new Map<string, string>([
    ['MeterValueSampleInterval', '60'],
    ['MeterValuesSampledData', 'Energy.Active.Import.Register,Power.Active.Import'],
    ['ClockAlignedDataInterval', '0'],
    ['MeterValuesAlignedData', 'Energy.Active.Import.Register'],
    ['HeartbeatInterval', '300'],
  ]);
  private ep!: Endpoint;
  private sampleTimer: NodeJS.Timeout | undefined;
  private readonly followTimers = new Set<NodeJS.Timeout>();

  private constructor(private readonly o: SiteChargerOptions) {
    this.id = o.id;
  }

  static async connect(o: SiteChargerOptions): Promise<SiteCharger> {
    const c = new SiteCharger(o);
    const ws = new WebSocket(`${o.url}/${o.id}`, ['ocpp1.6'], { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('error', () => {});
    c.ep = new Endpoint(ws, (action, payload) => c.answer(action, payload), 30_000);
    return c;
  }

  get open(): boolean {
    return this.ep.ws.readyState === WebSocket.OPEN;
  }

  setting(key: string): string | undefined {
    return this.config.get(key);
  }

  async start(idTag: string): Promise<void> {
    await this.ep.call('BootNotification', { chargePointVendor: 'SiteBench', chargePointModel: 'AC-22-3P' });
    await this.status('Available');
    await this.ep.call('Authorize', { idTag });
    const s = await this.ep.call('StartTransaction', {
      connectorId: 1,
      idTag,
      meterStart: 0,
      timestamp: isoNow(),
    });
    this.txId = Number(s.payload.transactionId);
    await this.status('Charging');
    // The vehicle takes what the charger offers: its maximum, or the limit of a profile that came first.
    this.setDraw(Math.min(this.o.vehicleMaxA, this.limitA ?? this.o.vehicleMaxA));
    this.armSampling();
  }

  close(): Promise<void> {
    clearInterval(this.sampleTimer);
    for (const t of this.followTimers) clearTimeout(t);
    const ws = this.ep.ws;
    if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      ws.once('close', () => resolve());
      ws.close();
      setTimeout(() => ws.terminate(), 1000).unref();
    });
  }

  private status(status: string) {
    return this.ep.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status, timestamp: isoNow() });
  }

  /** Sampled values at MeterValueSampleInterval, with the configured measurands only. */
  private armSampling(): void {
    clearInterval(this.sampleTimer);
    const s = Number(this.config.get('MeterValueSampleInterval'));
    if (!(s > 0)) return;
    this.sampleTimer = setInterval(() => this.open && void this.sample().catch(() => {}), s * 1000);
  }

  private sample() {
    const wanted = (this.config.get('MeterValuesSampledData') ?? '').split(',').filter(Boolean);
    const a = this.drawA;
    const sampledValue: Json[] = [];
    for (const m of wanted) {
      if (m === 'Energy.Active.Import.Register')
        sampledValue.push({ value: this.energyWh.toFixed(0), measurand: m, unit: 'Wh', context: 'Sample.Periodic' });
      else if (m === 'Power.Active.Import')
        sampledValue.push({ value: (a * 3 * VOLTS).toFixed(0), measurand: m, unit: 'W', context: 'Sample.Periodic' });
      else if (m === 'Current.Import' || m === 'Current.Offered')
        for (const phase of ['L1', 'L2', 'L3'])
          sampledValue.push({
            value: (m === 'Current.Import' ? a : (this.limitA ?? this.o.vehicleMaxA)).toFixed(1),
            measurand: m,
            phase,
            unit: 'A',
            context: 'Sample.Periodic',
          });
      else if (m === 'Voltage')
        for (const phase of ['L1-N', 'L2-N', 'L3-N'])
          sampledValue.push({ value: String(VOLTS), measurand: m, phase, unit: 'V', context: 'Sample.Periodic' });
    }
    return this.ep.call('MeterValues', {
      connectorId: 1,
      ...(this.txId !== undefined ? { transactionId: this.txId } : {}),
      meterValue: [{ timestamp: isoNow(), sampledValue }],
    });
  }

  private setDraw(limitA: number): void {
    const a = limitA <= 0 ? 0 : Math.min(this.o.vehicleMaxA, limitA + this.o.overdrawA);
    // Energy integrates on the way (coarsely: enough for a register that only goes up).
    this.energyWh += this.drawA * 3 * VOLTS * 0.001;
    if (a === this.drawA) return;
    this.drawA = a;
    this.o.onDraw();
  }

  private onProfile(payload: Json): void {
    const p = payload.csChargingProfiles as
      | { chargingSchedule?: { chargingSchedulePeriod?: Array<{ limit?: number }>; chargingRateUnit?: string } }
      | undefined;
    const period = p?.chargingSchedule?.chargingSchedulePeriod?.[0]?.limit;
    if (typeof period !== 'number') return;
    const limit = p?.chargingSchedule?.chargingRateUnit === 'W' ? period / (3 * VOLTS) : period;
    this.limitA = limit;
    this.profiles++;
    this.o.onProfile(this, limit, monoMs());
    // The vehicle follows this limit lagMs later (each change on its own, as a slow on-board charger ramps).
    const t = setTimeout(() => {
      this.followTimers.delete(t);
      if (this.txId !== undefined) this.setDraw(limit);
    }, this.o.lagMs);
    this.followTimers.add(t);
  }

  private answer(action: string, payload: Json): Json | undefined {
    switch (action) {
      case 'SetChargingProfile':
        this.onProfile(payload);
        return { status: 'Accepted' };
      case 'ClearChargingProfile':
        return { status: 'Accepted' };
      case 'ChangeConfiguration':
        return { status: this.change(String(payload.key), String(payload.value)) };
      case 'GetConfiguration': {
        const keys = (payload.key as string[] | undefined) ?? [...this.config.keys()];
        const known = keys.filter((k) => this.config.has(k));
        return {
          configurationKey: known.map((key) => ({ key, readonly: false, value: this.config.get(key) })),
          unknownKey: keys.filter((k) => !this.config.has(k)),
        };
      }
      case 'TriggerMessage':
        if (payload.requestedMessage === 'MeterValues') setTimeout(() => void this.sample().catch(() => {}), 0);
        return { status: payload.requestedMessage === 'MeterValues' ? 'Accepted' : 'NotImplemented' };
      case 'RemoteStartTransaction':
      case 'RemoteStopTransaction':
        return { status: 'Rejected' };
      case 'DataTransfer':
        return { status: 'UnknownVendorId' };
      default:
        return undefined;
    }
  }

  private change(key: string, value: string): 'Accepted' | 'Rejected' | 'NotSupported' {
    if (!this.config.has(key)) return 'NotSupported';
    if (key === 'MeterValuesSampledData' || key === 'MeterValuesAlignedData') {
      const list = value.split(',').map((s) => s.trim());
      if (list.some((m) => !MEASURANDS.has(m))) return 'Rejected';
      this.config.set(key, list.join(','));
      return 'Accepted';
    }
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) return 'Rejected';
    this.config.set(key, String(n));
    if (key === 'MeterValueSampleInterval') this.armSampling();
    return 'Accepted';
  }
}
