/**
 * An OCPP 2.1 bidirectional AC charger with one EVSE and a V2G vehicle, on
 * plain `ws` with the bench peers' own codec (never the gateway's). The
 * vehicle states over ISO 15118 (NotifyEVChargingNeeds, AC_BPT) that it may
 * feed at most `maxDischargeW`; it follows a discharge set-point up to that
 * after `followMs`, or — `ignoresDischarge` — goes SuspendedEV instead, as
 * vehicles in the field do. It reports its power in TransactionEvent
 * meter values every second.
 */
import { WebSocket } from 'ws';
import { Endpoint, type Json } from '../../../bench/peers/ocpp-wire.js';

export interface V2gChargerOptions {
  readonly url: string;
  readonly id: string;
  readonly maxDischargeW: number;
  readonly followMs?: number;
  readonly ignoresDischarge?: boolean;
}

const iso = () => new Date().toISOString();

export class V2gChargerPeer {
  /** What the vehicle exchanges now, W (+ charging, − feeding). */
  powerW = 0;
  /** Discharge set-points received, W (negative). */
  readonly asked: number[] = [];
  private ep!: Endpoint;
  private seqNo = 0;
  private state = 'EVConnected';
  private timers: NodeJS.Timeout[] = [];

  private constructor(private readonly o: V2gChargerOptions) {}

  static async connect(o: V2gChargerOptions): Promise<V2gChargerPeer> {
    const c = new V2gChargerPeer(o);
    const ws = new WebSocket(`${o.url}/${o.id}`, ['ocpp2.1'], { perMessageDeflate: false });
    // Handler first: the gateway may call as soon as the socket is open.
    c.ep = new Endpoint(ws, (action, payload) => c.answer(action, payload), 10_000);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('error', () => {});
    return c;
  }

  async plugIn(): Promise<void> {
    await this.ep.call('BootNotification', {
      reason: 'PowerUp',
      chargingStation: { vendorName: 'E2E', model: 'BPT-22' },
    });
    await this.ep.call('StatusNotification', {
      timestamp: iso(),
      connectorStatus: 'Occupied',
      evseId: 1,
      connectorId: 1,
    });
    await this.tx('Started', 'CablePluggedIn', { idToken: { idToken: 'V2G-1', type: 'ISO14443' } });
    await this.ep.call('NotifyEVChargingNeeds', {
      evseId: 1,
      chargingNeeds: {
        requestedEnergyTransfer: 'AC_BPT',
        acChargingParameters: { energyAmount: 20_000, evMinCurrent: 6, evMaxCurrent: 32, evMaxVoltage: 400 },
        v2xChargingParameters: { maxDischargePower: this.o.maxDischargeW, maxChargePower: 22_000 },
      },
    });
    this.timers.push(setInterval(() => void this.report().catch(() => {}), 1000));
  }

  close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    const ws = this.ep.ws;
    if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      ws.once('close', () => resolve());
      ws.close();
      setTimeout(() => ws.terminate(), 1000).unref();
    });
  }

  private tx(eventType: string, triggerReason: string, extra: Json = {}): Promise<unknown> {
    return this.ep.call('TransactionEvent', {
      eventType,
      timestamp: iso(),
      triggerReason,
      seqNo: this.seqNo++,
      transactionInfo: { transactionId: `${this.o.id}-tx`, chargingState: this.state },
      evse: { id: 1, connectorId: 1 },
      ...extra,
    });
  }

  private report(): Promise<unknown> {
    const sampledValue =
      this.powerW >= 0
        ? [{ value: this.powerW, measurand: 'Power.Active.Import' }]
        : [
            { value: 0, measurand: 'Power.Active.Import' },
            { value: -this.powerW, measurand: 'Power.Active.Export' },
          ];
    return this.tx('Updated', 'MeterValuePeriodic', { meterValue: [{ timestamp: iso(), sampledValue }] });
  }

  private follow(targetW: number): void {
    this.timers.push(
      setTimeout(() => {
        if (targetW < 0 && this.o.ignoresDischarge) {
          this.powerW = 0;
          this.state = 'SuspendedEV';
          void this.tx('Updated', 'ChargingStateChanged').catch(() => {});
          return;
        }
        // The vehicle never feeds more than it said it could.
        this.powerW = Math.max(targetW, -this.o.maxDischargeW);
        const state = this.powerW === 0 ? 'SuspendedEVSE' : 'Charging';
        if (state !== this.state) {
          this.state = state;
          void this.tx('Updated', 'ChargingStateChanged').catch(() => {});
        }
        void this.report().catch(() => {});
      }, this.o.followMs ?? 300),
    );
  }

  private answer(action: string, payload: Json): Json | undefined {
    switch (action) {
      case 'SetChargingProfile': {
        const p = payload.chargingProfile as
          | { chargingSchedule?: Array<{ chargingRateUnit?: string; chargingSchedulePeriod?: Json[] }> }
          | undefined;
        const s = p?.chargingSchedule?.[0];
        const period = s?.chargingSchedulePeriod?.[0] ?? {};
        const discharge = typeof period.dischargeLimit === 'number' ? period.dischargeLimit : undefined;
        if (discharge !== undefined && discharge < 0) {
          this.asked.push(discharge);
          this.follow(discharge);
        } else if (typeof period.limit === 'number') {
          const w = s?.chargingRateUnit === 'W' ? period.limit : period.limit * 3 * 230;
          this.follow(Math.min(w, 11_000));
        }
        return { status: 'Accepted' };
      }
      case 'ClearChargingProfile':
        return { status: 'Unknown' };
      case 'SetVariables':
        return {
          setVariableResult: ((payload.setVariableData as Json[] | undefined) ?? []).map((d) => ({
            attributeStatus: 'Accepted',
            component: d.component,
            variable: d.variable,
          })),
        };
      case 'GetVariables':
        return {
          getVariableResult: ((payload.getVariableData as Json[] | undefined) ?? []).map((d) => ({
            attributeStatus: 'UnknownVariable',
            component: d.component,
            variable: d.variable,
          })),
        };
      default:
        return { status: 'Accepted' };
    }
  }
}
