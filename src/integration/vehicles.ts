import { z } from 'zod';
import type { Clock } from '../model/clock.js';
import type { Db } from '../store/db.js';

export const VehicleNeedsSchema = z
  .object({
    departureAt: z.number().int().describe('Epoch ms the vehicle must be ready'),
    energyNeededWh: z.number().nonnegative().optional().describe('Energy still needed by departure, Wh'),
    targetSocPct: z.number().min(0).max(100).optional(),
    currentSocPct: z.number().min(0).max(100).optional(),
    allowV2g: z.boolean().optional().describe('Vehicle may discharge (V2G) within its needs'),
    minSocPct: z.number().min(0).max(100).optional().describe('Never discharge below this SoC'),
  })
  .strict();

export const VehicleSchema = z
  .object({
    id: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_.:-]+$/),
    name: z.string().max(200).optional(),
    idTags: z.array(z.string().min(1).max(64)).default([]).describe('RFID / idTokens that identify the vehicle'),
    batteryCapacityWh: z.number().positive().optional(),
    maxPowerW: z.number().positive().optional(),
    phases: z.union([z.literal(1), z.literal(3)]).optional(),
    needs: VehicleNeedsSchema.optional(),
  })
  .strict();

export type VehicleNeeds = z.infer<typeof VehicleNeedsSchema>;
export type VehicleInput = z.input<typeof VehicleSchema>;
export interface Vehicle extends z.infer<typeof VehicleSchema> {
  readonly updatedAt: number;
}

/** What policies read: the active needs of every vehicle, plain data. */
export interface VehicleNeed extends VehicleNeeds {
  readonly vehicleId: string;
  readonly idTags: readonly string[];
  readonly maxPowerW?: number;
  readonly batteryCapacityWh?: number;
}

/**
 * Vehicles and their needs (departure, energy), set through the API or the
 * config, kept in memory for policies and in SQLite across restarts. A
 * policy binds `needs(now)` as its input (see `bindPolicy`).
 */
export class VehicleStore {
  private readonly vehicles = new Map<string, Vehicle>();
  private readonly listeners = new Set<(v: Vehicle, removed: boolean) => void>();

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    seed: readonly unknown[] = [],
  ) {
    for (const r of db.prepare('SELECT json FROM vehicles').all() as Array<{ json: string }>) {
      const v = JSON.parse(r.json) as Vehicle;
      this.vehicles.set(v.id, v);
    }
    // Config vehicles seed the store; changes made through the API win afterwards.
    for (const raw of seed) {
      const p = VehicleSchema.safeParse(raw);
      if (p.success && !this.vehicles.has(p.data.id)) this.put({ ...p.data, updatedAt: clock.now() });
    }
  }

  list(): Vehicle[] {
    return [...this.vehicles.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  get(id: string): Vehicle | undefined {
    return this.vehicles.get(id);
  }

  byIdTag(idTag: string | undefined): Vehicle | undefined {
    if (!idTag) return undefined;
    for (const v of this.vehicles.values()) if (v.idTags.includes(idTag)) return v;
    return undefined;
  }

  upsert(input: z.output<typeof VehicleSchema>): Vehicle {
    const prev = this.vehicles.get(input.id);
    const v: Vehicle = {
      ...input,
      ...(input.needs === undefined && prev?.needs ? { needs: prev.needs } : {}),
      updatedAt: this.clock.now(),
    };
    this.put(v);
    return v;
  }

  setNeeds(id: string, needs: VehicleNeeds): Vehicle {
    const prev = this.vehicles.get(id) ?? { id, idTags: [], updatedAt: 0 };
    const v: Vehicle = { ...prev, needs, updatedAt: this.clock.now() };
    this.put(v);
    return v;
  }

  clearNeeds(id: string): Vehicle | undefined {
    const prev = this.vehicles.get(id);
    if (!prev) return undefined;
    const { needs: _drop, ...rest } = prev;
    const v: Vehicle = { ...rest, updatedAt: this.clock.now() };
    this.put(v);
    return v;
  }

  remove(id: string): boolean {
    const v = this.vehicles.get(id);
    if (!v) return false;
    this.vehicles.delete(id);
    this.db.prepare('DELETE FROM vehicles WHERE id = ?').run(id);
    for (const l of this.listeners) l(v, true);
    return true;
  }

  /** Needs whose departure is still ahead: the input of fleet/deadline policies. */
  needs(now: number): VehicleNeed[] {
    const out: VehicleNeed[] = [];
    for (const v of this.vehicles.values()) {
      if (!v.needs || v.needs.departureAt <= now) continue;
      out.push({
        ...v.needs,
        vehicleId: v.id,
        idTags: v.idTags,
        ...(v.maxPowerW !== undefined ? { maxPowerW: v.maxPowerW } : {}),
        ...(v.batteryCapacityWh !== undefined ? { batteryCapacityWh: v.batteryCapacityWh } : {}),
      });
    }
    return out;
  }

  onChange(listener: (v: Vehicle, removed: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private put(v: Vehicle): void {
    this.vehicles.set(v.id, v);
    this.db
      .prepare(
        'INSERT INTO vehicles (id, json, updated_at) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at',
      )
      .run(v.id, JSON.stringify(v), v.updatedAt);
    for (const l of this.listeners) l(v, false);
  }
}
