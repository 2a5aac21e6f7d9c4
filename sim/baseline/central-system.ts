import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Clock } from '../../src/model/clock.js';

type Json = Record<string, unknown>;

/** What the central system knows of one charger from its own OCPP 1.6 messages. */
export interface ChargerView {
  readonly id: string;
  booted: boolean;
  /** Transaction running on connector 1. */
  tx?: { readonly id: number; readonly idTag: string; readonly meterStartWh: number; readonly startedAt: number };
  /** Last MeterValues: power, per-phase currents (the charger's own phase order), energy register. */
  powerW?: number;
  currentsA?: [number, number, number];
  registerWh?: number;
  meterAt?: number;
  /** Current limit last accepted by the charger, A. */
  limitA?: number;
}

const MEASURANDS = 'Energy.Active.Import.Register,Power.Active.Import,Current.Import';

/**
 * A small OCPP 1.6J central system on plain `ws` + JSON (its own codec,
 * nothing of the gateway): answers what chargers send, configures their
 * meter values at boot the way today's open-source EMSs do, and sets a
 * ChargePointMaxProfile when its controller asks.
 */
export class CentralSystem {
  readonly chargers = new Map<string, ChargerView>();
  private readonly sockets = new Map<string, WebSocket>();
  private readonly pending = new Map<string, (res: Json | undefined) => void>();
  private server?: WebSocketServer;
  private nextMsg = 1;
  private nextTx = 1;
  messages = 0;

  constructor(
    private readonly clock: Clock,
    private readonly onMessage?: () => void,
  ) {}

  get url(): string {
    const a = this.server?.address() as AddressInfo | undefined;
    return `ws://127.0.0.1:${a?.port ?? 0}/ocpp`;
  }

  async start(): Promise<void> {
    const server = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      handleProtocols: (protocols) => (protocols.has('ocpp1.6') ? 'ocpp1.6' : false),
    });
    server.on('connection', (ws, req) => this.onConnection(ws, req));
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const ws of this.sockets.values()) ws.terminate();
    this.sockets.clear();
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const id = decodeURIComponent((req.url ?? '').split('/').filter(Boolean).pop() ?? '');
    this.sockets.set(id, ws);
    if (!this.chargers.has(id)) this.chargers.set(id, { id, booted: false });
    ws.on('message', (data) => this.onFrame(id, ws, String(data)));
    ws.on('close', () => {
      if (this.sockets.get(id) === ws) this.sockets.delete(id);
    });
    ws.on('error', () => {});
  }

  private onFrame(id: string, ws: WebSocket, text: string): void {
    this.messages++;
    this.onMessage?.();
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (!Array.isArray(frame)) return;
    const [type, msgId] = frame as [number, string];
    if (type === 2) {
      const [, , action, payload] = frame as [number, string, string, Json];
      const res = this.answer(id, action, payload ?? {});
      if (res) ws.send(JSON.stringify([3, msgId, res]));
      else ws.send(JSON.stringify([4, msgId, 'NotImplemented', `${action} not supported`, {}]));
      if (action === 'BootNotification') this.configure(id);
    } else if (type === 3 || type === 4) {
      const done = this.pending.get(msgId);
      this.pending.delete(msgId);
      done?.(type === 3 ? ((frame as [number, string, Json])[2] ?? {}) : undefined);
    }
  }

  private iso(): string {
    return new Date(this.clock.now()).toISOString();
  }

  private answer(id: string, action: string, p: Json): Json | undefined {
    const c = this.chargers.get(id) as ChargerView;
    switch (action) {
      case 'BootNotification':
        c.booted = true;
        return { status: 'Accepted', currentTime: this.iso(), interval: 300 };
      case 'Heartbeat':
        return { currentTime: this.iso() };
      case 'StatusNotification':
      case 'FirmwareStatusNotification':
      case 'DiagnosticsStatusNotification':
        return {};
      case 'Authorize':
        return { idTagInfo: { status: 'Accepted' } };
      case 'StartTransaction': {
        const tx = this.nextTx++;
        c.tx = {
          id: tx,
          idTag: String(p.idTag),
          meterStartWh: Number(p.meterStart ?? 0),
          startedAt: this.clock.now(),
        };
        c.registerWh = c.tx.meterStartWh;
        c.powerW = 0;
        c.currentsA = [0, 0, 0];
        return { transactionId: tx, idTagInfo: { status: 'Accepted' } };
      }
      case 'StopTransaction':
        c.tx = undefined;
        c.powerW = 0;
        c.currentsA = [0, 0, 0];
        return {};
      case 'MeterValues':
        this.readMeterValues(c, p);
        return {};
      case 'DataTransfer':
        return { status: 'Accepted' };
      default:
        return undefined;
    }
  }

  private readMeterValues(c: ChargerView, p: Json): void {
    const mvs = (p.meterValue as Array<{ sampledValue?: Json[] }> | undefined) ?? [];
    for (const mv of mvs) {
      const currents: [number, number, number] = [0, 0, 0];
      let anyCurrent = false;
      for (const sv of mv.sampledValue ?? []) {
        const measurand = (sv.measurand as string | undefined) ?? 'Energy.Active.Import.Register';
        const unit = sv.unit as string | undefined;
        const raw = Number(sv.value);
        if (!Number.isFinite(raw)) continue;
        const kilo = unit === 'kW' || unit === 'kWh' ? 1000 : 1;
        if (measurand === 'Power.Active.Import' && sv.phase === undefined) c.powerW = raw * kilo;
        else if (measurand === 'Energy.Active.Import.Register' && sv.phase === undefined) c.registerWh = raw * kilo;
        else if (measurand === 'Current.Import') {
          const i = ['L1', 'L2', 'L3'].indexOf(String(sv.phase));
          if (i >= 0) {
            currents[i] = raw;
            anyCurrent = true;
          }
        }
      }
      if (anyCurrent) c.currentsA = currents;
      c.meterAt = this.clock.now();
    }
  }

  /** Send a call and wait for its answer (undefined: error or no link). */
  call(id: string, action: string, payload: Json): Promise<Json | undefined> {
    const ws = this.sockets.get(id);
    if (!ws || ws.readyState !== ws.OPEN) return Promise.resolve(undefined);
    const msgId = `cs${this.nextMsg++}`;
    return new Promise((resolve) => {
      this.pending.set(msgId, resolve);
      ws.send(JSON.stringify([2, msgId, action, payload]));
    });
  }

  private configure(id: string): void {
    void this.call(id, 'ChangeConfiguration', { key: 'MeterValueSampleInterval', value: '10' });
    void this.call(id, 'ChangeConfiguration', { key: 'MeterValuesSampledData', value: MEASURANDS });
  }

  /** Limit the whole charger to `amps` per phase (0 pauses it). */
  async setMaxCurrent(id: string, amps: number): Promise<boolean> {
    const res = await this.call(id, 'SetChargingProfile', {
      connectorId: 0,
      csChargingProfiles: {
        chargingProfileId: 1,
        stackLevel: 0,
        chargingProfilePurpose: 'ChargePointMaxProfile',
        chargingProfileKind: 'Relative',
        chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: amps }] },
      },
    });
    const ok = res?.status === 'Accepted';
    const c = this.chargers.get(id);
    if (ok && c) c.limitA = amps;
    return ok;
  }
}
