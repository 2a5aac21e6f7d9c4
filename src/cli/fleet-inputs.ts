import type { VehicleNeed as FleetNeed, ImportWindow } from '../../policies/fleet-deadlines.js';
import type { PlannedVehicle } from '../../policies/tariff-planning.js';
import type { VppVehicle } from '../../policies/vpp-dispatch.js';
import type { Integration } from '../integration/index.js';
import type { Clock } from '../model/clock.js';
import type { EvChargingNeeds } from '../model/events.js';
import type { GridSignal } from '../model/grid.js';
import { SESSION_STATUSES, type SiteSnapshot } from '../model/site.js';

/** What a vehicle told its charger over OCPP 2.1 NotifyEVChargingNeeds. */
interface OcppNeed {
  readonly at: number;
  readonly departureAt?: number;
  readonly energyWh?: number;
  readonly dischargeAllowed: boolean;
  /** Largest discharge the vehicle allows (ISO 15118 / OCPP 2.1 V2X parameters), W. */
  readonly maxDischargeW?: number;
}

/**
 * Collects vehicle needs from their two sources — the API (fleet tools set
 * departure and energy per vehicle, matched to a session by id tag) and
 * OCPP 2.1 charging needs (the vehicle itself) — and turns them into the
 * plain inputs of the fleet-deadline, tariff-planning and VPP policies.
 */
export class FleetInputs {
  private readonly ocpp = new Map<string, OcppNeed>();
  private integration?: Integration;

  constructor(private readonly clock: Clock) {}

  attach(integration: Integration): void {
    this.integration = integration;
  }

  /** `onEvChargingNeeds` of the OCPP proxy: needs parsed once, by the adapter. */
  onEvChargingNeeds(needs: EvChargingNeeds): void {
    this.ocpp.set(needs.evseId, {
      at: this.clock.now(),
      ...(needs.departureAt !== undefined ? { departureAt: needs.departureAt } : {}),
      // A vehicle asking for no energy sets no deadline.
      ...(needs.energyWh !== undefined && needs.energyWh > 0 ? { energyWh: needs.energyWh } : {}),
      dischargeAllowed: needs.dischargeAllowed,
      ...(needs.maxDischargeW !== undefined ? { maxDischargeW: needs.maxDischargeW } : {}),
    });
  }

  /** API needs for the fleet-deadline policy (matched to sessions by id tag there). */
  apiNeeds(now: number): FleetNeed[] {
    const out: FleetNeed[] = [];
    for (const n of this.integration?.vehicles.needs(now) ?? []) {
      const fromSoc =
        n.targetSocPct !== undefined && n.currentSocPct !== undefined && n.batteryCapacityWh !== undefined
          ? (Math.max(0, n.targetSocPct - n.currentSocPct) / 100) * n.batteryCapacityWh
          : undefined;
      const energyWh = n.energyNeededWh ?? fromSoc;
      if (energyWh === undefined) continue;
      const tags = n.idTags.length > 0 ? n.idTags : [undefined];
      // The phases the fleet tool gave for the vehicle: a 1-phase van takes a third of the power.
      const phases = this.integration?.vehicles.get(n.vehicleId)?.phases;
      for (const idTag of tags) {
        out.push({
          vehicleId: n.vehicleId,
          ...(idTag ? { idTag } : {}),
          departureAt: n.departureAt,
          energyWh,
          ...(phases !== undefined ? { phases } : {}),
        });
      }
    }
    for (const [evseId, n] of this.ocpp) {
      if (n.departureAt === undefined || n.energyWh === undefined || n.departureAt <= now) continue;
      out.push({ vehicleId: `ocpp:${evseId}`, evseId, departureAt: n.departureAt, energyWh: n.energyWh });
    }
    return out;
  }

  /** Vehicles plugged in with a departure and an energy need (tariff planning). */
  planned(snapshot: SiteSnapshot, now: number): PlannedVehicle[] {
    const out: PlannedVehicle[] = [];
    for (const v of this.sessionVehicles(snapshot, now)) {
      if (v.departureAt !== undefined && v.neededWh !== undefined) {
        out.push({ evseId: v.evseId, departureAt: v.departureAt, neededWh: v.neededWh });
      }
    }
    return out;
  }

  /** Bidirectional EVSEs with a session, and what their vehicle allows (VPP dispatch). */
  v2g(snapshot: SiteSnapshot, now: number): VppVehicle[] {
    // Only bidirectional EVSEs are looked at (every round builds this; most chargers are not).
    return this.sessionVehicles(snapshot, now, true).map((v) => ({
      evseId: v.evseId,
      allowDischarge: v.allowDischarge,
      ...(v.socPct !== undefined ? { socPct: v.socPct } : {}),
      ...(v.capacityWh !== undefined ? { capacityWh: v.capacityWh } : {}),
      ...(v.departureAt !== undefined ? { departureAt: v.departureAt } : {}),
      ...(v.requiredWh !== undefined ? { requiredWhAtDeparture: v.requiredWh } : {}),
      ...(v.maxDischargeW !== undefined ? { maxDischargeW: v.maxDischargeW } : {}),
    }));
  }

  private sessionVehicles(snapshot: SiteSnapshot, now: number, bidirectionalOnly = false) {
    const byTag = new Map<string, ReturnType<Integration['vehicles']['needs']>[number]>();
    for (const n of this.integration?.vehicles.needs(now) ?? []) for (const t of n.idTags) byTag.set(t, n);
    const out: Array<{
      evseId: string;
      bidirectional: boolean;
      allowDischarge: boolean;
      departureAt?: number;
      neededWh?: number;
      socPct?: number;
      capacityWh?: number;
      requiredWh?: number;
      maxDischargeW?: number;
    }> = [];
    for (const e of snapshot.evses) {
      if (!SESSION_STATUSES.has(e.status) || (bidirectionalOnly && !e.bidirectional)) continue;
      const api = e.idTag ? byTag.get(e.idTag) : undefined;
      const ocpp = this.ocpp.get(e.id);
      const departureAt = api?.departureAt ?? ocpp?.departureAt;
      const capacityWh = api?.batteryCapacityWh;
      const neededWh =
        api?.energyNeededWh ??
        (api?.targetSocPct !== undefined && api.currentSocPct !== undefined && capacityWh !== undefined
          ? (Math.max(0, api.targetSocPct - api.currentSocPct) / 100) * capacityWh
          : ocpp?.energyWh);
      out.push({
        evseId: e.id,
        bidirectional: e.bidirectional,
        allowDischarge: api?.allowV2g ?? ocpp?.dischargeAllowed ?? false,
        ...(departureAt !== undefined ? { departureAt } : {}),
        ...(neededWh !== undefined ? { neededWh: Math.max(0, neededWh - (e.sessionEnergyWh ?? 0)) } : {}),
        ...(api?.currentSocPct !== undefined ? { socPct: api.currentSocPct } : {}),
        ...(capacityWh !== undefined ? { capacityWh } : {}),
        ...(api?.targetSocPct !== undefined && capacityWh !== undefined
          ? { requiredWh: (api.targetSocPct / 100) * capacityWh }
          : {}),
        ...(ocpp?.maxDischargeW !== undefined ? { maxDischargeW: ocpp.maxDischargeW } : {}),
      });
    }
    return out;
  }
}

/**
 * Import limits active now or announced for later (OpenADR, OSCP, HTTP/MQTT DR), as windows for the
 * fleet plan: a day-ahead limit is known hours before it starts.
 */
export function knownImportLimits(signals: readonly GridSignal[], now: number): ImportWindow[] {
  const out: ImportWindow[] = [];
  for (const s of signals) {
    if (s.kind !== 'importLimit' || s.end <= now || !Number.isFinite(s.value)) continue;
    out.push({ start: s.start, end: s.end, importLimitW: Math.max(0, s.value) });
  }
  return out;
}
