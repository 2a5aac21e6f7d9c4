import type { Decision, Limit, PowerRequest, Reason, Tier } from '../src/model/decision.js';
import { isFresh } from '../src/model/reading.js';
import { SESSION_STATUSES, type SiteSnapshot } from '../src/model/site.js';
import type { ActiveGridSignal } from './grid-signals.js';

export interface VppBattery {
  readonly id: string;
  readonly capacityWh: number;
  readonly maxChargeW: number;
  readonly maxDischargeW: number;
  readonly minSocPct: number;
  readonly maxSocPct: number;
}

/** What the fleet knows about a plugged-in bidirectional vehicle. */
export interface VppVehicle {
  readonly evseId: string;
  /** The driver / fleet allows discharging this vehicle. */
  readonly allowDischarge: boolean;
  readonly socPct?: number;
  readonly capacityWh?: number;
  /** Epoch ms. */
  readonly departureAt?: number;
  /** Energy the vehicle must hold at departure, Wh. */
  readonly requiredWhAtDeparture?: number;
  readonly maxDischargeW?: number;
  readonly maxChargeW?: number;
}

export interface VppInput {
  /** Site set-point (+ import, - export), with the event behind it. */
  readonly setpoint?: ActiveGridSignal;
  /** End of the set-point, epoch ms (Infinity when open). */
  readonly setpointEnd?: number;
  readonly battery?: VppBattery;
  readonly vehicles: readonly VppVehicle[];
  /** No vehicle is discharged below this SoC, %. */
  readonly v2gMinSocPct: number;
  /** Largest change of one asset's power per control step, W/s. */
  readonly rampWPerS: number;
  /** Seconds between control rounds (the ramp applies per round). */
  readonly stepS: number;
  readonly staleAfterMs: number;
  /** Tier of the requests: `grid` for a DSO/utility set-point, `optimisation` for a market dispatch. */
  readonly tier: Tier;
  /** The load the gateway does not steer at the last meter sample (time-aligned, W); from the snapshot when absent. */
  readonly otherLoadW?: number;
  /** Vehicles that did not follow their last discharge set-point: re-planned without them for a while. */
  readonly unresponsive?: ReadonlyArray<{ readonly evseId: string; readonly why: string }>;
}

/**
 * VPP dispatch: serve a site set-point with the stationary battery first,
 * then with V2G vehicles that allow discharging, each within its SoC floor
 * and what it must still hold at departure, moving at most `rampWPerS` per
 * second from what it does now. Returns requests only; the limits of the
 * grid and safety tiers still bound them in the allocator.
 */
export function decide(snapshot: SiteSnapshot, input: VppInput, now: number): Decision {
  const sp = input.setpoint;
  const grid = snapshot.grid.powerW;
  if (!sp || !grid || snapshot.stale.includes('grid.powerW')) return { limits: [], requests: [] };
  const ramp = input.rampWPerS * input.stepS;
  const requests: PowerRequest[] = [];
  const reason = (text: string): Reason => ({ policy: 'vpp-dispatch', tier: input.tier, text });
  const head = `dispatch set-point ${kw(sp.value)} from ${sp.label}, site at ${kw(grid.value)}`;
  // Positive: the site must take more; negative: it must take less / feed more.
  let needW = sp.value - grid.value;

  const bat = input.battery;
  let batteryTargetW: number | undefined;
  if (bat) {
    const b = snapshot.battery;
    const bw = b.powerW && isFresh(b.powerW, now, input.staleAfterMs) ? b.powerW.value : undefined;
    const soc = b.socPct && isFresh(b.socPct, now, input.staleAfterMs) ? b.socPct.value : undefined;
    if (bw !== undefined && soc !== undefined) {
      const bmsDis = b.maxDischargePowerW?.value ?? Number.POSITIVE_INFINITY;
      const bmsCha = b.maxChargePowerW?.value ?? Number.POSITIVE_INFINITY;
      const maxDis = soc > bat.minSocPct ? Math.min(bat.maxDischargeW, bmsDis) : 0;
      const maxCha = soc < bat.maxSocPct ? Math.min(bat.maxChargeW, bmsCha) : 0;
      const wanted = clamp(bw + needW, -maxDis, maxCha);
      const target = clamp(wanted, bw - ramp, bw + ramp);
      needW -= target - bw;
      batteryTargetW = target;
      const limits: string[] = [];
      if (target !== wanted) limits.push(`ramp ${kw(ramp)} per round`);
      if (wanted === -maxDis)
        limits.push(
          maxDis === 0 ? `SoC ${soc.toFixed(0)} % at floor ${bat.minSocPct} %` : `max discharge ${kw(maxDis)}`,
        );
      if (wanted === maxCha) limits.push(maxCha === 0 ? `SoC ${soc.toFixed(0)} % full` : `max charge ${kw(maxCha)}`);
      requests.push({
        target: `battery:${bat.id}`,
        powerW: Math.round(target) || 0,
        reason: reason(
          `${head}: battery ${target < 0 ? 'discharges' : 'charges'} ${kw(Math.abs(target))} (SoC ${soc.toFixed(0)} %)${limits.length ? `, limited by ${limits.join(', ')}` : ''}`,
        ),
      });
    }
  }

  const byEvse = new Map(snapshot.evses.map((e) => [e.id, e]));
  const left = new Map((input.unresponsive ?? []).map((u) => [u.evseId, u.why]));
  const endMs = input.setpointEnd ?? Number.POSITIVE_INFINITY;
  const eligible: Array<{ id: string; nowW: number; minW: number; maxW: number; why: string }> = [];
  for (const v of input.vehicles) {
    const e = byEvse.get(v.evseId);
    if (!e?.bidirectional || !SESSION_STATUSES.has(e.status)) continue;
    const nowW = e.powerW && isFresh(e.powerW, now, input.staleAfterMs) ? e.powerW.value : 0;
    const deviceMaxW = e.maxCurrentA * (e.vehiclePhases ?? e.phases) * e.voltageV;
    const maxChargeW = Math.min(v.maxChargeW ?? deviceMaxW, deviceMaxW);
    // What the vehicle (ISO 15118 / OCPP 2.1 needs) and the EVSE allow, whichever is less.
    const capabilityW = Math.min(v.maxDischargeW ?? deviceMaxW, deviceMaxW);
    const skipped = left.get(e.id) ?? (e.status === 'SuspendedEV' ? 'charger reports SuspendedEV' : undefined);
    let maxDischargeW = 0;
    let why = 'discharge not allowed';
    if (v.allowDischarge && skipped !== undefined) {
      why = `left out: ${skipped}`;
    } else if (v.allowDischarge && v.socPct === undefined && v.maxDischargeW !== undefined) {
      // SoC unknown to us, but the vehicle states its discharge limit: it keeps its own floor (ISO 15118).
      maxDischargeW = capabilityW;
      why = `vehicle allows ${kw(v.maxDischargeW)}${capabilityW < v.maxDischargeW ? `, EVSE ${kw(capabilityW)}` : ''}`;
    } else if (v.allowDischarge && v.socPct !== undefined && v.capacityWh !== undefined) {
      const energyWh = (v.socPct / 100) * v.capacityWh;
      const floorWh = (input.v2gMinSocPct / 100) * v.capacityWh;
      // What it can recharge between the end of the dispatch and departure counts back towards its need.
      const afterH =
        v.departureAt !== undefined && Number.isFinite(endMs) ? Math.max(0, (v.departureAt - endMs) / 3_600_000) : 0;
      const mustKeepWh = Math.max(floorWh, (v.requiredWhAtDeparture ?? 0) - maxChargeW * afterH);
      const spareWh = energyWh - mustKeepWh;
      const leftH = Number.isFinite(endMs) ? Math.max(1 / 60, (endMs - now) / 3_600_000) : 1;
      maxDischargeW = spareWh > 0 ? Math.min(capabilityW, spareWh / leftH) : 0;
      why =
        maxDischargeW > 0
          ? `SoC ${v.socPct.toFixed(0)} %, keeps ${(mustKeepWh / 1000).toFixed(1)} kWh for floor/departure, max ${kw(maxDischargeW)}`
          : `SoC ${v.socPct.toFixed(0)} % needed for floor ${input.v2gMinSocPct} % / departure`;
    }
    eligible.push({ id: e.id, nowW, minW: -maxDischargeW, maxW: maxChargeW, why });
  }
  // The vehicles' total is absolute: the set-point less the load nothing here steers (taken as the meter saw it),
  // the battery's part and the chargers outside dispatch. Built from the error of the last step instead, a vehicle
  // that reports its new power after the meter shows it would be asked twice and the dispatch would oscillate.
  const eligibleIds = new Set(eligible.map((c) => c.id));
  let fixedW = 0;
  let evseW = 0;
  for (const e of snapshot.evses) {
    const w = e.powerW && isFresh(e.powerW, now, input.staleAfterMs) ? e.powerW.value : 0;
    evseW += w;
    if (!eligibleIds.has(e.id)) fixedW += w;
  }
  const batNowW = snapshot.battery.powerW?.value ?? 0;
  const otherW = input.otherLoadW ?? grid.value - evseW - batNowW;
  const batTermW = input.otherLoadW !== undefined && !bat ? 0 : (batteryTargetW ?? batNowW);
  const totalW = sp.value - otherW - batTermW - fixedW;
  const capDis = eligible.reduce((s, c) => s + -c.minW, 0);
  const capCha = eligible.reduce((s, c) => s + c.maxW, 0);
  const limits: Limit[] = [];
  // What the devices cannot deliver is said, with the reason of each vehicle (the site's reasons show it).
  const shortfallW = totalW < 0 ? Math.max(0, -totalW - capDis) : 0;
  if (shortfallW > 100) {
    const whys = eligible.map((c) => `${c.id}: ${c.why}`);
    limits.push({
      scope: 'site',
      reason: reason(
        `${head}: shortfall ${kw(shortfallW)} (${whys.length > 0 ? whys.join('; ') : 'no V2G vehicle plugged in'}${bat ? '; battery at its limit' : ''})`,
      ),
    });
  }
  for (const c of eligible) {
    // Shared in proportion to what each can do in the needed direction.
    const wanted =
      totalW < 0
        ? capDis > 0
          ? Math.max(c.minW, (totalW * -c.minW) / capDis)
          : 0
        : capCha > 0
          ? Math.min(c.maxW, (totalW * c.maxW) / capCha)
          : 0;
    const target = clamp(wanted, c.nowW - ramp, c.nowW + ramp);
    if (c.minW === 0 && target >= c.nowW) continue; // cannot feed and may keep charging: not ours to steer
    // A request only ever raises charging: charging less than now, or not at all before feeding in,
    // takes a cap on the EVSE as well.
    if (target < c.nowW || target <= 0)
      limits.push({
        scope: `evse:${c.id}`,
        maxImportW: Math.max(0, Math.round(target)),
        reason: reason(`${head}: V2G ${c.id} charges at most ${kw(Math.max(0, target))}`),
      });
    requests.push({
      target: `evse:${c.id}`,
      powerW: Math.round(target) || 0,
      reason: reason(
        `${head}: V2G ${target < 0 ? 'feeds' : 'charges'} ${kw(Math.abs(target))} (${c.why})${target !== wanted ? `, ramp ${kw(ramp)} per round` : ''}`,
      ),
    });
  }
  return { limits, requests };
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

function kw(w: number): string {
  return `${(w / 1000).toFixed(1)} kW`;
}
