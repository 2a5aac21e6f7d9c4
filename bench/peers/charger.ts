/**
 * An OCPP 1.6J charge point with one connector, on plain `ws`, for the bench
 * peers. It behaves like a simple real charger: boots, reports status,
 * authorises and runs transactions, sends MeterValues with per-phase
 * currents, answers the usual CMS calls, and obeys the last charging profile
 * (its vehicle follows a new limit after `followMs`).
 */
import { WebSocket } from 'ws';
import { Endpoint, type Json } from './ocpp-wire.js';

export interface ChargerOptions {
  readonly url: string;
  readonly id: string;
  /** Largest current the vehicle draws without a limit, A. */
  readonly vehicleMaxA?: number;
  /** Delay until the vehicle follows a new limit, ms (then a MeterValues goes out). */
  readonly followMs?: number;
  /** Every SetChargingProfile limit as it arrives (before the answer is sent). */
  readonly onProfile?: (c: ChargerPeer, limitA: number, at: number) => void;
  /** A change of the vehicle's draw (site physics). */
  readonly onDraw?: (c: ChargerPeer) => void;
}

const now = () => new Date().toISOString();

function profileLimitA(payload: Json): number | undefined {
  const p = payload.csChargingProfiles as
    | { chargingSchedule?: { chargingSchedulePeriod?: Array<{ limit?: number }> } }
    | undefined;
  const limit = p?.chargingSchedule?.chargingSchedulePeriod?.[0]?.limit;
  return typeof limit === 'number' ? limit : undefined;
}

export class ChargerPeer {
  readonly id: string;
  limitA: number | undefined;
  drawA = 0;
  txId: number | undefined;
  energyWh = 1_000_000;
  private ep!: Endpoint;
  private readonly followTimers = new Set<NodeJS.Timeout>();

  private constructor(private readonly o: ChargerOptions) {
    this.id = o.id;
  }

  static async connect(o: ChargerOptions): Promise<ChargerPeer> {
    const c = new ChargerPeer(o);
    const ws = new WebSocket(`${o.url}/${o.id}`, ['ocpp1.6'], { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`${o.id}: HTTP ${res.statusCode}`)));
    });
    ws.on('error', () => {});
    c.ep = new Endpoint(
      ws,
      (action, payload) => c.answer(action, payload),
      30_000,
      (action, payload, at) => {
        if (action !== 'SetChargingProfile') return;
        const limit = profileLimitA(payload);
        if (limit === undefined) return;
        c.limitA = limit;
        o.onProfile?.(c, limit, at);
        c.follow();
      },
    );
    return c;
  }

  get open(): boolean {
    return this.ep.ws.readyState === WebSocket.OPEN;
  }

  call(action: string, payload: Json): Promise<{ payload: Json; ms: number }> {
    return this.ep.call(action, payload);
  }

  close(): Promise<void> {
    const ws = this.ep.ws;
    for (const t of this.followTimers) clearTimeout(t);
    this.followTimers.clear();
    if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      ws.once('close', () => resolve());
      ws.close();
      setTimeout(() => ws.terminate(), 2000).unref();
    });
  }

  boot() {
    return this.call('BootNotification', { chargePointVendor: 'BenchPeer', chargePointModel: 'AC-22' });
  }

  status(status: 'Available' | 'Preparing' | 'Charging' | 'Finishing') {
    return this.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status, timestamp: now() });
  }

  /** Authorize + StartTransaction + StatusNotification Charging; the vehicle then draws. */
  async startSession(idTag: string, lat?: (action: string, ms: number) => void): Promise<void> {
    const a = await this.call('Authorize', { idTag });
    lat?.('Authorize', a.ms);
    const s = await this.call('StartTransaction', {
      connectorId: 1,
      idTag,
      meterStart: Math.round(this.energyWh),
      timestamp: now(),
    });
    lat?.('StartTransaction', s.ms);
    this.txId = Number(s.payload.transactionId);
    const st = await this.status('Charging');
    lat?.('StatusNotification', st.ms);
    this.setDraw(Math.min(this.o.vehicleMaxA ?? 32, this.limitA ?? Number.POSITIVE_INFINITY));
  }

  async stopSession(lat?: (action: string, ms: number) => void): Promise<void> {
    const tx = this.txId;
    this.txId = undefined;
    this.setDraw(0);
    const s = await this.call('StopTransaction', {
      transactionId: tx ?? 0,
      meterStop: Math.round(this.energyWh),
      timestamp: now(),
      reason: 'EVDisconnected',
    });
    lat?.('StopTransaction', s.ms);
    const st = await this.status('Available');
    lat?.('StatusNotification', st.ms);
  }

  meterValues() {
    const a = this.drawA;
    const sampledValue = [
      { value: (a * 690).toFixed(0), measurand: 'Power.Active.Import', unit: 'W' },
      { value: this.energyWh.toFixed(0), measurand: 'Energy.Active.Import.Register', unit: 'Wh' },
      ...(['L1', 'L2', 'L3'] as const).map((phase) => ({
        value: a.toFixed(1),
        measurand: 'Current.Import',
        phase,
        unit: 'A',
      })),
    ];
    this.energyWh += a * 690 * (10 / 3600);
    return this.call('MeterValues', {
      connectorId: 1,
      ...(this.txId !== undefined ? { transactionId: this.txId } : {}),
      meterValue: [{ timestamp: now(), sampledValue }],
    });
  }

  private setDraw(a: number): void {
    if (a === this.drawA) return;
    this.drawA = a;
    this.o.onDraw?.(this);
  }

  /**
   * The vehicle follows each limit `followMs` after it arrived and the charger reports it (as a
   * charger with on-change values does). A later limit does not restart the delay of an earlier
   * one: a vehicle under a stream of profiles still moves, one delay behind them.
   */
  private follow(): void {
    const limitA = this.limitA;
    const t = setTimeout(() => {
      this.followTimers.delete(t);
      if (this.txId === undefined) return;
      const target = Math.min(this.o.vehicleMaxA ?? 32, limitA ?? Number.POSITIVE_INFINITY);
      if (target === this.drawA) return;
      this.setDraw(target);
      if (this.open) void this.meterValues().catch(() => {});
    }, this.o.followMs ?? 100);
    this.followTimers.add(t);
  }

  private answer(action: string, payload: Json): Json | undefined {
    switch (action) {
      case 'SetChargingProfile':
      case 'ClearChargingProfile':
      case 'ChangeConfiguration':
      case 'TriggerMessage':
      case 'UnlockConnector':
      case 'Reset':
        return { status: 'Accepted' };
      case 'RemoteStartTransaction':
      case 'RemoteStopTransaction':
        // A busy connector refuses a remote start, as real ones do; the bench does not act on it.
        return { status: action === 'RemoteStartTransaction' && this.txId !== undefined ? 'Rejected' : 'Accepted' };
      case 'GetConfiguration': {
        const keys = (payload.key as string[] | undefined) ?? ['HeartbeatInterval'];
        return { configurationKey: keys.map((key) => ({ key, readonly: false, value: '60' })) };
      }
      case 'DataTransfer':
        return { status: 'Accepted', data: 'ok' };
      case 'GetCompositeSchedule':
        return { status: 'Rejected' };
      default:
        return undefined;
    }
  }
}
