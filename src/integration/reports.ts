import type { SessionInfo } from '../bus/events.js';
import type { ReportsConfig } from '../config/sections/integration.js';
import type { SessionStore } from '../store/session-store.js';
import type { TelemetryPoint, TelemetryStore } from '../store/telemetry-store.js';
import type { VehicleStore } from './vehicles.js';

const DAY_MS = 86_400_000;

export interface EnergyMix {
  /** Share (0..1) of consumption supplied by the grid, PV and battery. */
  readonly grid: number;
  readonly pv: number;
  readonly battery: number;
}

export interface DailyReport {
  readonly day: string;
  readonly evEnergyWh: number;
  readonly sessions: number;
  readonly sessionEnergyWh: number;
  readonly pvShare: number;
  readonly batteryShare: number;
  readonly gridShare: number;
  readonly evPvEnergyWh: number;
  readonly evBatteryEnergyWh: number;
  readonly evGridEnergyWh: number;
  readonly co2Kg: number;
  readonly peakImportW: number | null;
  readonly gridImportWh: number;
  readonly gridExportWh: number;
  readonly pvEnergyWh: number;
  readonly cost: number;
  readonly currency: string;
}

export interface SessionReport {
  readonly sessionId: string;
  readonly chargerId: string;
  readonly evseId: string;
  readonly idTag: string | null;
  readonly vehicleId: string | null;
  readonly startedAt: string;
  readonly stoppedAt: string | null;
  readonly durationS: number;
  readonly energyWh: number;
  readonly pvShare: number;
  readonly batteryShare: number;
  readonly gridShare: number;
  readonly co2Kg: number;
  readonly cost: number;
  readonly currency: string;
}

export interface FleetReportRow {
  readonly day: string;
  readonly vehicleId: string;
  readonly sessions: number;
  readonly energyWh: number;
  readonly cost: number;
  readonly currency: string;
  readonly departureAt: string | null;
  readonly energyNeededWh: number | null;
  /** null when the vehicle had no deadline that day. */
  readonly deadlineMet: boolean | null;
}

interface Sample {
  ts: number;
  dtH: number;
  grid: number;
  pv: number;
  battery: number;
  ev: number;
}

const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** CSV with a header row; values quoted only when needed. */
export function toCsv(rows: readonly object[]): string {
  const first = rows[0];
  if (!first) return '';
  const cols = Object.keys(first);
  const esc = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.join(','), ...rows.map((r) => cols.map((c) => esc((r as Record<string, unknown>)[c])).join(','))]
    .join('\n')
    .concat('\n');
}

/**
 * Energy and ESG reports from the telemetry ring and the session store.
 * EV energy is attributed to sources in proportion to the site's supply in
 * each sample (grid import, PV, battery discharge), so PV and battery shares
 * are site-level estimates, which is what a depot without sub-metering can say.
 */
export class ReportService {
  constructor(
    private readonly opts: {
      telemetry: TelemetryStore;
      sessions: SessionStore;
      vehicles: VehicleStore;
      config: ReportsConfig;
      sampleIntervalMs: number;
    },
  ) {}

  intensity(at: number): number {
    const c = this.opts.config.gridCo2GPerKWh;
    if (typeof c === 'number') return c;
    const hour = new Date(at).getUTCHours();
    return c.find((x) => x.hour === hour)?.gPerKWh ?? c[0]?.gPerKWh ?? 0;
  }

  costOf(energyWh: number): { cost: number; currency: string } {
    return { cost: (energyWh / 1000) * this.opts.config.pricePerKWh, currency: this.opts.config.currency };
  }

  /** Per day (UTC) in [from, to). */
  daily(from: number, to: number): DailyReport[] {
    const out: DailyReport[] = [];
    for (let d = Math.floor(from / DAY_MS) * DAY_MS; d < to; d += DAY_MS) {
      const samples = this.samples(Math.max(d, from), Math.min(d + DAY_MS, to));
      const sessions = this.opts.sessions.list({ from: d, to: d + DAY_MS, limit: 100_000 });
      let evWh = 0;
      let evPv = 0;
      let evBat = 0;
      let evGrid = 0;
      let co2G = 0;
      let peak: number | null = null;
      let importWh = 0;
      let exportWh = 0;
      let pvWh = 0;
      for (const s of samples) {
        const mix = mixOf(s);
        const e = Math.max(0, s.ev) * s.dtH;
        evWh += e;
        evPv += e * mix.pv;
        evBat += e * mix.battery;
        evGrid += e * mix.grid;
        co2G += ((e * mix.grid) / 1000) * this.intensity(s.ts);
        importWh += Math.max(0, s.grid) * s.dtH;
        exportWh += Math.max(0, -s.grid) * s.dtH;
        pvWh += Math.max(0, s.pv) * s.dtH;
        peak = peak === null ? s.grid : Math.max(peak, s.grid);
      }
      const sessionWh = sessions.reduce((a, s) => a + s.energyWh, 0);
      const billed = sessionWh > 0 ? sessionWh : evWh;
      out.push({
        day: new Date(d).toISOString().slice(0, 10),
        evEnergyWh: Math.round(evWh),
        sessions: sessions.length,
        sessionEnergyWh: Math.round(sessionWh),
        pvShare: evWh > 0 ? r3(evPv / evWh) : 0,
        batteryShare: evWh > 0 ? r3(evBat / evWh) : 0,
        gridShare: evWh > 0 ? r3(evGrid / evWh) : 0,
        evPvEnergyWh: Math.round(evPv),
        evBatteryEnergyWh: Math.round(evBat),
        evGridEnergyWh: Math.round(evGrid),
        co2Kg: r3(co2G / 1000),
        peakImportW: peak,
        gridImportWh: Math.round(importWh),
        gridExportWh: Math.round(exportWh),
        pvEnergyWh: Math.round(pvWh),
        cost: r2(this.costOf(billed).cost),
        currency: this.opts.config.currency,
      });
    }
    return out;
  }

  /** Site energy mix over an interval (e.g. one session). */
  mix(from: number, to: number): EnergyMix & { at: number } {
    const samples = this.samples(from, to);
    let ev = 0;
    let pv = 0;
    let bat = 0;
    let grid = 0;
    for (const s of samples) {
      const m = mixOf(s);
      const w = Math.max(0, s.ev) * s.dtH || s.dtH; // weight by EV energy when there is any
      ev += w;
      pv += w * m.pv;
      bat += w * m.battery;
      grid += w * m.grid;
    }
    if (ev === 0) return { grid: 1, pv: 0, battery: 0, at: from };
    return { grid: grid / ev, pv: pv / ev, battery: bat / ev, at: from };
  }

  session(s: SessionInfo, now: number): SessionReport {
    const end = s.stoppedAt ?? now;
    const m = this.mix(s.startedAt, end);
    const co2G = ((s.energyWh * m.grid) / 1000) * this.intensity(s.startedAt);
    return {
      sessionId: s.id,
      chargerId: s.chargerId,
      evseId: s.evseId,
      idTag: s.idTag ?? null,
      vehicleId: this.opts.vehicles.byIdTag(s.idTag)?.id ?? null,
      startedAt: new Date(s.startedAt).toISOString(),
      stoppedAt: s.stoppedAt !== undefined ? new Date(s.stoppedAt).toISOString() : null,
      durationS: Math.round((end - s.startedAt) / 1000),
      energyWh: s.energyWh,
      pvShare: r3(m.pv),
      batteryShare: r3(m.battery),
      gridShare: r3(m.grid),
      co2Kg: r3(co2G / 1000),
      cost: r2(this.costOf(s.energyWh).cost),
      currency: this.opts.config.currency,
    };
  }

  sessions(from: number, to: number, now: number): SessionReport[] {
    return this.opts.sessions
      .list({ from, to, limit: 100_000 })
      .reverse()
      .map((s) => this.session(s, now));
  }

  fleet(from: number, to: number): FleetReportRow[] {
    const out: FleetReportRow[] = [];
    for (let d = Math.floor(from / DAY_MS) * DAY_MS; d < to; d += DAY_MS) {
      const sessions = this.opts.sessions.list({ from: d, to: d + DAY_MS, limit: 100_000 });
      for (const v of this.opts.vehicles.list()) {
        const mine = sessions.filter((s) => s.idTag !== undefined && v.idTags.includes(s.idTag));
        const energy = mine.reduce((a, s) => a + s.energyWh, 0);
        const dep = v.needs?.departureAt;
        const depToday = dep !== undefined && dep >= d && dep < d + DAY_MS;
        let met: boolean | null = null;
        if (depToday && v.needs?.energyNeededWh !== undefined) {
          const byDeparture = mine.filter((s) => s.startedAt < dep).reduce((a, s) => a + s.energyWh, 0);
          met = byDeparture >= v.needs.energyNeededWh;
        }
        if (mine.length === 0 && !depToday) continue;
        out.push({
          day: new Date(d).toISOString().slice(0, 10),
          vehicleId: v.id,
          sessions: mine.length,
          energyWh: Math.round(energy),
          cost: r2(this.costOf(energy).cost),
          currency: this.opts.config.currency,
          departureAt: depToday ? new Date(dep).toISOString() : null,
          energyNeededWh: depToday ? (v.needs?.energyNeededWh ?? null) : null,
          deadlineMet: met,
        });
      }
    }
    return out;
  }

  private samples(from: number, to: number): Sample[] {
    const t = this.opts.telemetry;
    const series = (name: string) => new Map(t.query(name, from, to).map((p: TelemetryPoint) => [p.ts, p.value]));
    const grid = series('grid.powerW');
    const pv = series('pv.powerW');
    const bat = series('battery.powerW');
    const ev = series('evses.powerW');
    const ts = [...new Set([...grid.keys(), ...ev.keys(), ...pv.keys()])].sort((a, b) => a - b);
    // A gap longer than two intervals (gateway down) is not integrated over.
    const maxDt = 2 * this.opts.sampleIntervalMs;
    return ts.map((x, i) => {
      const next = ts[i + 1] ?? Math.min(to, x + this.opts.sampleIntervalMs);
      const dt = Math.min(maxDt, Math.max(0, next - x));
      return {
        ts: x,
        dtH: dt / 3_600_000,
        grid: grid.get(x) ?? 0,
        pv: pv.get(x) ?? 0,
        battery: bat.get(x) ?? 0,
        ev: ev.get(x) ?? 0,
      };
    });
  }
}

function mixOf(s: Pick<Sample, 'grid' | 'pv' | 'battery'>): EnergyMix {
  const g = Math.max(0, s.grid);
  const p = Math.max(0, s.pv);
  const b = Math.max(0, -s.battery);
  const total = g + p + b;
  if (total <= 0) return { grid: 1, pv: 0, battery: 0 };
  return { grid: g / total, pv: p / total, battery: b / total };
}
