import type { Json, OcppVersion } from './wire.js';

export interface ProfilePeriod {
  /** Seconds from the schedule's start. */
  readonly startS: number;
  readonly limit: number;
  /** 2.1 bidirectional set-point, W (negative = discharge). */
  readonly setpointW?: number;
}

export interface Profile {
  readonly id: number;
  readonly purpose: string;
  readonly stackLevel: number;
  /** Connector (1.6) or EVSE (2.x); 0 = the whole charger. */
  readonly connectorId: number;
  readonly unit: 'A' | 'W';
  /** Limit of the first period (what most callers look at). */
  readonly limit: number;
  readonly setpointW?: number;
  readonly kind: string;
  readonly periods: readonly ProfilePeriod[];
  /** Epoch ms; Absolute/Recurring schedules start here (else when installed). */
  readonly startAt: number;
  readonly durationS?: number;
  readonly validFrom?: number;
  readonly validTo?: number;
  readonly transactionId?: string;
}

const MAX_PURPOSES = new Set(['ChargePointMaxProfile', 'ChargingStationMaxProfile']);
const DAY_MS = 86_400_000;

const time = (v: unknown): number | undefined => (typeof v === 'string' ? Date.parse(v) : undefined);

/** Read a SetChargingProfile request of either version into the charger's form; undefined when malformed. */
export function readProfile(version: OcppVersion, req: Json, now: number): Profile | undefined {
  const v16 = version === 'ocpp1.6';
  const cp = (v16 ? req.csChargingProfiles : req.chargingProfile) as Json | undefined;
  const rawSched = v16 ? cp?.chargingSchedule : (cp?.chargingSchedule as unknown[] | undefined)?.[0];
  const sched = rawSched as Json | undefined;
  const rawPeriods = sched?.chargingSchedulePeriod as Json[] | undefined;
  if (!cp || !sched || !Array.isArray(rawPeriods) || rawPeriods.length === 0) return undefined;
  const periods: ProfilePeriod[] = rawPeriods.map((p) => ({
    startS: Number(p.startPeriod ?? 0),
    limit: typeof p.limit === 'number' ? p.limit : Number.POSITIVE_INFINITY,
    ...(typeof p.setpoint === 'number' ? { setpointW: p.setpoint } : {}),
  }));
  const first = periods[0] as ProfilePeriod;
  const validFrom = time(cp.validFrom);
  const validTo = time(cp.validTo);
  const txId = cp.transactionId;
  return {
    id: Number(v16 ? cp.chargingProfileId : cp.id),
    purpose: String(cp.chargingProfilePurpose),
    stackLevel: Number(cp.stackLevel ?? 0),
    connectorId: Number((v16 ? req.connectorId : req.evseId) ?? 0),
    unit: sched.chargingRateUnit === 'W' ? 'W' : 'A',
    limit: first.limit,
    ...(first.setpointW !== undefined ? { setpointW: first.setpointW } : {}),
    kind: String(cp.chargingProfileKind ?? 'Absolute'),
    periods,
    startAt: time(sched.startSchedule) ?? now,
    ...(typeof sched.duration === 'number' ? { durationS: sched.duration } : {}),
    ...(validFrom !== undefined ? { validFrom } : {}),
    ...(validTo !== undefined ? { validTo } : {}),
    ...(txId !== undefined ? { transactionId: String(txId) } : {}),
  };
}

/**
 * The charging profiles a charger holds and the limit they give
 * (OCPP 1.6 §3.13, 2.0.1 K): per purpose the highest stack level whose
 * schedule is in force now wins; a TxProfile overrides the TxDefaultProfile;
 * the result is the minimum of that and the charger-wide max profile.
 * validFrom / validTo and schedule durations are honoured, so a limit with
 * a revert time lapses on its own.
 */
export class ProfileStore {
  readonly list: Profile[] = [];

  /** A profile with the same id, or the same purpose and stack level on the same connector, replaces the old one. */
  put(p: Profile): void {
    for (let i = this.list.length - 1; i >= 0; i--) {
      const q = this.list[i] as Profile;
      if (
        q.id === p.id ||
        (q.purpose === p.purpose && q.stackLevel === p.stackLevel && q.connectorId === p.connectorId)
      )
        this.list.splice(i, 1);
    }
    this.list.push(p);
  }

  /** Remove what matches every given criterion (none = all); true when anything was removed. */
  clear(c: { id?: number; connectorId?: number; purpose?: string; stackLevel?: number }): boolean {
    const before = this.list.length;
    for (let i = this.list.length - 1; i >= 0; i--) {
      const p = this.list[i] as Profile;
      if (c.id !== undefined && p.id !== c.id) continue;
      if (c.connectorId !== undefined && p.connectorId !== c.connectorId) continue;
      if (c.purpose !== undefined && p.purpose !== c.purpose) continue;
      if (c.stackLevel !== undefined && p.stackLevel !== c.stackLevel) continue;
      this.list.splice(i, 1);
    }
    return this.list.length < before;
  }

  /** Limit in force on a connector now, A; undefined when no profile applies. */
  limitA(connectorId: number, now: number, toA: (p: Profile, limit: number) => number, txStart?: number) {
    const cap = this.top(now, txStart, (p) => MAX_PURPOSES.has(p.purpose));
    const tx =
      this.top(now, txStart, (p) => p.purpose === 'TxProfile' && p.connectorId === connectorId) ??
      this.top(now, txStart, (p) => p.purpose === 'TxDefaultProfile' && [0, connectorId].includes(p.connectorId));
    const limits = [cap, tx].filter((x) => x !== undefined).map((x) => toA(x.profile, x.period.limit));
    return limits.length > 0 ? Math.min(...limits) : undefined;
  }

  /** The bidirectional set-point in force on a connector now, W. */
  setpointW(connectorId: number, now: number, txStart?: number): number | undefined {
    return this.top(now, txStart, (p) => p.setpointW !== undefined && [0, connectorId].includes(p.connectorId))?.period
      .setpointW;
  }

  private top(now: number, txStart: number | undefined, match: (p: Profile) => boolean) {
    const candidates = this.list.filter(match).sort((a, b) => b.stackLevel - a.stackLevel);
    for (const profile of candidates) {
      const period = this.periodAt(profile, now, txStart);
      if (period) return { profile, period };
    }
    return undefined;
  }

  private periodAt(p: Profile, now: number, txStart: number | undefined): ProfilePeriod | undefined {
    if (p.validFrom !== undefined && now < p.validFrom) return undefined;
    if (p.validTo !== undefined && now >= p.validTo) return undefined;
    let start = p.kind === 'Relative' ? (txStart ?? now) : p.startAt;
    if (p.kind === 'Recurring' && now >= start) start += Math.floor((now - start) / DAY_MS) * DAY_MS;
    const elapsedS = (now - start) / 1000;
    if (elapsedS < 0 || (p.durationS !== undefined && elapsedS >= p.durationS)) return undefined;
    let found: ProfilePeriod | undefined;
    for (const period of p.periods) if (period.startS <= elapsedS) found = period;
    return found;
  }
}
