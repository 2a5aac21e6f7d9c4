import type { Setpoint } from '../../src/model/decision.js';
import type { OcppProtocol } from './rpc/protocol.js';
import type { V16, V21, V201 } from './types.js';

/**
 * How the gateway enforces a set-point on an OCPP charger (documented
 * choice): a charger with one connector / EVSE gets a station-wide max
 * profile (1.6 `ChargePointMaxProfile` on connector 0, 2.x
 * `ChargingStationMaxProfile` on EVSE 0). A charger with several gets one
 * `TxDefaultProfile` per connector / EVSE, because a station max profile
 * cannot share power between connectors. Either way the profile sits at the
 * gateway's reserved stack level with a fixed id (`gatewayProfileId` +
 * connector), so each write replaces the previous one and a CMS TxProfile
 * still applies on top (the charger enforces the minimum).
 * OCPP 2.1 V2G: a negative set-point is sent in W as `setpoint` and
 * `dischargeLimit` (negative = discharge), with `limit` 0.
 */
export interface GatewayProfileOptions {
  readonly protocol: OcppProtocol;
  readonly connectors: number;
  readonly connectorId: number;
  readonly stackLevel: number;
  readonly profileId: number;
  readonly now: number;
  /** Extra cap from a CMS max profile, A (merged: minimum of both). */
  readonly capA?: number;
}

export interface ProfileCall {
  readonly action: 'SetChargingProfile';
  readonly payload: Record<string, unknown>;
}

export function gatewayProfile(sp: Setpoint, o: GatewayProfileOptions): ProfileCall {
  const single = o.connectors <= 1;
  const target = single ? 0 : o.connectorId;
  const id = o.profileId + target;
  const startSchedule = new Date(o.now).toISOString();
  const limitA = Math.max(0, round1(Math.min(sp.currentA, o.capA ?? Number.POSITIVE_INFINITY)));
  if (o.protocol === 'ocpp1.6') {
    const payload: V16.SetChargingProfileRequest = {
      connectorId: target,
      csChargingProfiles: {
        chargingProfileId: id,
        stackLevel: o.stackLevel,
        chargingProfilePurpose: single ? 'ChargePointMaxProfile' : 'TxDefaultProfile',
        chargingProfileKind: 'Absolute',
        chargingSchedule: {
          startSchedule,
          chargingRateUnit: 'A',
          chargingSchedulePeriod: [{ startPeriod: 0, limit: limitA, numberPhases: sp.phases }],
        },
      },
    };
    return { action: 'SetChargingProfile', payload: payload as unknown as Record<string, unknown> };
  }
  const v2g = isDischarge(o.protocol, sp);
  const period = v2g
    ? {
        startPeriod: 0,
        limit: 0,
        dischargeLimit: round1(sp.powerW),
        setpoint: round1(sp.powerW),
        numberPhases: sp.phases,
      }
    : { startPeriod: 0, limit: limitA, numberPhases: sp.phases };
  const evseTarget = v2g ? o.connectorId : target;
  const payload: V201.SetChargingProfileRequest | V21.SetChargingProfileRequest = {
    evseId: evseTarget,
    chargingProfile: {
      id: v2g ? dischargeProfileId(o.profileId, evseTarget) : o.profileId + evseTarget,
      stackLevel: o.stackLevel,
      chargingProfilePurpose: evseTarget === 0 ? 'ChargingStationMaxProfile' : 'TxDefaultProfile',
      chargingProfileKind: 'Absolute',
      chargingSchedule: [
        {
          id: o.profileId + evseTarget,
          startSchedule,
          chargingRateUnit: v2g ? 'W' : 'A',
          chargingSchedulePeriod: [period],
        },
      ],
    },
  };
  return { action: 'SetChargingProfile', payload: payload as unknown as Record<string, unknown> };
}

/** A set-point sent as an OCPP 2.1 discharge (V2G) profile. */
export function isDischarge(protocol: OcppProtocol, sp: Setpoint): boolean {
  return protocol === 'ocpp2.1' && sp.powerW < 0;
}

/** Id of the gateway's discharge profile on an EVSE (a per-EVSE TxDefaultProfile). */
export function dischargeProfileId(profileId: number, evseId: number): number {
  return profileId + evseId;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

interface Period {
  startPeriod: number;
  limit?: number;
}

interface Schedule {
  startSchedule?: string;
  chargingRateUnit: 'A' | 'W';
  chargingSchedulePeriod: Period[];
}

/** Whether a CMS SetChargingProfile is a station-wide max profile (merged by the gateway, not passed through). */
export function isCmsMaxProfile(protocol: OcppProtocol, payload: Record<string, unknown>): boolean {
  if (protocol === 'ocpp1.6') {
    const p = payload.csChargingProfiles as { chargingProfilePurpose?: string } | undefined;
    return p?.chargingProfilePurpose === 'ChargePointMaxProfile';
  }
  const p = payload.chargingProfile as { chargingProfilePurpose?: string } | undefined;
  return p?.chargingProfilePurpose === 'ChargingStationMaxProfile';
}

/**
 * The per-phase current a CMS max profile allows now, A. Uses the period in
 * force at `now` (relative to `startSchedule`, else the first period);
 * W limits are converted with the charger's phases and nominal voltage.
 */
export function cmsCapA(
  protocol: OcppProtocol,
  payload: Record<string, unknown>,
  now: number,
  phases: number,
  voltageV: number,
): number | undefined {
  const schedule: Schedule | undefined =
    protocol === 'ocpp1.6'
      ? (payload.csChargingProfiles as { chargingSchedule?: Schedule } | undefined)?.chargingSchedule
      : (payload.chargingProfile as { chargingSchedule?: Schedule[] } | undefined)?.chargingSchedule?.[0];
  if (!schedule) return undefined;
  const start = schedule.startSchedule ? Date.parse(schedule.startSchedule) : Number.NaN;
  const elapsedS = Number.isFinite(start) ? Math.max(0, (now - start) / 1000) : 0;
  let active: Period | undefined;
  for (const p of [...schedule.chargingSchedulePeriod].sort((a, b) => a.startPeriod - b.startPeriod)) {
    if (p.startPeriod <= elapsedS) active = p;
  }
  active ??= schedule.chargingSchedulePeriod[0];
  if (active?.limit === undefined) return undefined;
  return schedule.chargingRateUnit === 'W' ? active.limit / (phases * voltageV) : active.limit;
}
