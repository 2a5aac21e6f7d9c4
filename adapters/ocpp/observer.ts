import { reading } from '../../src/model/reading.js';
import { type EvseLive, type EvseSpec, type EvseStatus, evseId } from '../../src/model/site.js';
import type { ChargerRef, LinkContext } from './context.js';
import { type MeterSample, mapStatus, parseChargingNeeds } from './messages.js';
import type { OcppProtocol } from './rpc/protocol.js';
import type { V16, V21, V201 } from './types.js';

type Ctx = Pick<
  LinkContext,
  'bus' | 'clock' | 'log' | 'voltageV' | 'onChargerError' | 'onFirmwareStatus' | 'onEvChargingNeeds'
>;

/**
 * What one charger tells the gateway about itself, published on the bus:
 * its EVSEs (spec once per connector, live status and meter readings), the
 * charger's presence, and the partner hooks (errors, firmware, EV charging
 * needs). Sessions are `SessionTracker`'s.
 */
export class EvseObserver {
  private readonly announced = new Set<number>();

  constructor(
    private readonly charger: ChargerRef,
    private readonly protocol: OcppProtocol,
    private readonly ctx: Ctx,
  ) {}

  /** Connectors seen so far (an unknown charger may have more than its default spec says). */
  get connectors(): number {
    return Math.max(this.charger.spec.connectors, ...this.announced);
  }

  /** Announce the configured connectors and the charger online. */
  start(): void {
    for (let c = 1; c <= this.charger.spec.connectors; c++) this.announce(c);
    this.device(true);
  }

  /** The charger went away: its EVSEs and the charger itself are offline. */
  gone(): void {
    for (const c of this.announced) this.live(c, { status: 'Offline' });
    this.device(false);
  }

  device(online: boolean): void {
    this.ctx.bus.emit('device', {
      id: this.charger.id,
      protocol: 'ocpp',
      kind: 'charger',
      online,
      lastSeen: this.ctx.clock.now(),
    });
  }

  live(connectorId: number, patch: Partial<EvseLive>): void {
    this.announce(connectorId);
    this.ctx.bus.emit('evse.live', {
      id: evseId(this.charger.id, connectorId),
      patch: { ...patch, lastSeen: this.ctx.clock.now() },
    });
  }

  /** Power and phase currents of a meter sample (energy is the session's business). */
  meter(connectorId: number, m: MeterSample, extra: Partial<EvseLive> = {}): void {
    const now = this.ctx.clock.now();
    const patch: { -readonly [K in keyof EvseLive]?: EvseLive[K] } = { ...extra };
    if (m.powerW !== undefined) patch.powerW = reading(m.powerW, now, this.charger.id);
    if (m.currentsA) patch.currentsA = reading(m.currentsA, now, this.charger.id);
    if (Object.keys(patch).length > 0) this.live(connectorId, patch);
  }

  /** A session ended on this connector: no session, no power. */
  sessionEnded(connectorId: number): void {
    this.live(connectorId, {
      sessionId: undefined,
      idTag: undefined,
      sessionStart: undefined,
      powerW: reading(0, this.ctx.clock.now(), this.charger.id),
    });
  }

  statusNotification(p: V16.StatusNotificationRequest | V201.StatusNotificationRequest): void {
    let conn: number;
    let code: string;
    let info: string | undefined;
    let status: EvseStatus;
    if ('connectorStatus' in p) {
      conn = p.evseId;
      status = mapStatus(this.protocol, p.connectorStatus);
      // 2.x StatusNotification has no error code: a Faulted connector is the error.
      code = p.connectorStatus === 'Faulted' ? 'Faulted' : 'NoError';
    } else {
      conn = p.connectorId;
      status = mapStatus(this.protocol, p.status);
      code = p.errorCode ?? 'NoError';
      info = p.info;
    }
    if (conn >= 1) this.live(conn, { status });
    this.hook('onChargerError', () => this.ctx.onChargerError?.(this.charger.id, conn, code, info));
  }

  firmwareStatus(p: V16.FirmwareStatusNotificationRequest | V201.FirmwareStatusNotificationRequest): void {
    if (typeof p.status !== 'string') return;
    const status = p.status;
    this.hook('onFirmwareStatus', () => this.ctx.onFirmwareStatus?.(this.charger.id, status));
  }

  /** OCPP 2.x NotifyEVChargingNeeds, parsed once, for the fleet inputs. */
  chargingNeeds(p: V21.NotifyEVChargingNeedsRequest): void {
    const needs = parseChargingNeeds(this.charger.id, evseId(this.charger.id, p.evseId), p, this.ctx.clock.now());
    this.hook('onEvChargingNeeds', () => this.ctx.onEvChargingNeeds?.(needs));
  }

  private announce(connectorId: number): void {
    if (this.announced.has(connectorId) || connectorId < 1) return;
    this.announced.add(connectorId);
    const s = this.charger.spec;
    const spec: EvseSpec = {
      id: evseId(this.charger.id, connectorId),
      chargerId: this.charger.id,
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

  /** A partner hook must never break the charger's message flow. */
  private hook(name: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.ctx.log.warn({ hook: name, err: err instanceof Error ? err.message : String(err) }, 'hook failed');
    }
  }
}
