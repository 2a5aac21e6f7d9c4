import type { Clock, TimerHandle } from '../../src/model/clock.js';
import type { PhaseRotation, PhaseValues } from '../../src/model/site.js';
import { createRng } from './rng.js';

export interface SitePhysicsOptions {
  readonly clock: Clock;
  readonly seed?: number;
  readonly voltageV?: number;
  /** Mean non-controllable building load, W. */
  readonly baseLoadW?: number;
  /** Random variation of the base load, W. */
  readonly baseLoadNoiseW?: number;
  /** PV peak at solar noon on a clear day, W (0 = no PV). */
  readonly pvPeakW?: number;
  /**
   * Where the simulated sun stands relative to the clock, ms: the PV curve is
   * evaluated at `now + sunOffsetMs`, so a demo started at night can run in
   * daylight (0 = the sun follows the clock's UTC time).
   */
  readonly sunOffsetMs?: number;
  /** Physics integration step, ms. */
  readonly stepMs?: number;
}

interface Load {
  powerW: number;
  currentsA: PhaseValues;
}

/**
 * Site phase (0..2) that terminal `terminal` (0..2) of a charger wired as `rotation` sits on: the
 * name says it (`L2L3L1`: terminal L1 on site L2). Unknown wiring counts as straight.
 */
export function sitePhase(rotation: PhaseRotation, terminal: number): number {
  const n = Number(rotation.charAt(terminal * 2 + 1));
  return n >= 1 && n <= 3 ? n - 1 : terminal;
}

/** Map currents in a device's own phase order onto the site's phases. */
export function rotate(currents: PhaseValues, rotation: PhaseRotation): PhaseValues {
  const onSite = (p: number) => currents.reduce((sum, a, t) => (sitePhase(rotation, t) === p ? sum + a : sum), 0);
  return [onSite(0), onSite(1), onSite(2)];
}

/**
 * The electrical site on the injected clock: a building base load, a PV
 * curve and whatever the simulated devices report drawing. The grid meter
 * simulator reads `gridPowerW()`; chargers and batteries report with
 * `setLoad()`. Energy counters are integrated every step.
 */
export class SitePhysics {
  readonly voltageV: number;
  private readonly rng: () => number;
  private readonly loads = new Map<string, Load>();
  private baseStepW = 0;
  private noiseW = 0;
  private timer?: TimerHandle;
  private lastTs: number;
  importWh = 0;
  exportWh = 0;
  pvWh = 0;
  private pvOverrideW?: number;

  constructor(private readonly opts: SitePhysicsOptions) {
    this.voltageV = opts.voltageV ?? 230;
    this.rng = createRng(opts.seed ?? 1);
    this.lastTs = opts.clock.now();
  }

  start(): void {
    this.lastTs = this.opts.clock.now();
    this.timer = this.opts.clock.setInterval(() => this.step(), this.opts.stepMs ?? 1000);
  }

  stop(): void {
    this.opts.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Add a step to the base load (tests: "a load step"). */
  setBaseLoadStep(w: number): void {
    this.baseStepW = w;
  }

  /** Pin PV output (tests); undefined returns to the daily curve. */
  setPvOverride(w: number | undefined): void {
    this.pvOverrideW = w;
  }

  /** A device reports its draw (+) or feed-in (-), currents in its own phase order. */
  setLoad(id: string, powerW: number, currentsA: PhaseValues = [0, 0, 0], rotation: PhaseRotation = 'L1L2L3'): void {
    this.loads.set(id, { powerW, currentsA: rotate(currentsA, rotation) });
  }

  removeLoad(id: string): void {
    this.loads.delete(id);
  }

  /** What one device draws now, currents on the site's phases (scenario KPIs per circuit). */
  loadOf(id: string): { readonly powerW: number; readonly currentsA: PhaseValues } | undefined {
    return this.loads.get(id);
  }

  baseLoadW(): number {
    return Math.max(0, (this.opts.baseLoadW ?? 8000) + this.noiseW + this.baseStepW);
  }

  pvPowerW(now = this.opts.clock.now()): number {
    if (this.pvOverrideW !== undefined) return this.pvOverrideW;
    const peak = this.opts.pvPeakW ?? 0;
    if (peak <= 0) return 0;
    const d = new Date(now + (this.opts.sunOffsetMs ?? 0));
    const hour = d.getUTCHours() + d.getUTCMinutes() / 60 + d.getUTCSeconds() / 3600;
    // Bell between 06:00 and 20:00 UTC, peak at 13:00.
    if (hour <= 6 || hour >= 20) return 0;
    return peak * Math.sin((Math.PI * (hour - 6)) / 14) ** 2;
  }

  controllableW(): number {
    let w = 0;
    for (const l of this.loads.values()) w += l.powerW;
    return w;
  }

  /** Grid power, W: + import, - export. */
  gridPowerW(): number {
    return this.baseLoadW() + this.controllableW() - this.pvPowerW();
  }

  /** Per-phase grid current, A (base load and PV spread evenly). */
  gridCurrentsA(): PhaseValues {
    const even = (this.baseLoadW() - this.pvPowerW()) / (3 * this.voltageV);
    const out: [number, number, number] = [even, even, even];
    for (const l of this.loads.values()) {
      for (let i = 0; i < 3; i++) out[i] = (out[i] as number) + (l.currentsA[i] as number);
    }
    return out;
  }

  /** Integrate energy and move the base-load noise; called every step. */
  step(): void {
    const now = this.opts.clock.now();
    const dtH = Math.max(0, now - this.lastTs) / 3_600_000;
    this.lastTs = now;
    const g = this.gridPowerW();
    if (g >= 0) this.importWh += g * dtH;
    else this.exportWh += -g * dtH;
    this.pvWh += this.pvPowerW(now) * dtH;
    const amp = this.opts.baseLoadNoiseW ?? 500;
    // Mean-reverting random walk: realistic wiggle without drift.
    this.noiseW = this.noiseW * 0.9 + (this.rng() - 0.5) * amp * 0.6;
  }
}
