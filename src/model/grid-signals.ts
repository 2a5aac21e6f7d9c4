// The grid-signal input is shared by the signal store (src/grid) that builds it and the
// grid-signals policy that reads it, so it lives in the model both may import.

/** One active grid-operator signal as the policy sees it (already resolved by the signal store). */
export interface ActiveGridSignal {
  /** W for limits and set-points, level 0..3 for SIMPLE. */
  readonly value: number;
  readonly source: string;
  readonly eventId: string;
  /** Human label naming the event, e.g. `openadr event "evening-peak" (ev-12) until 19:00Z`. */
  readonly label: string;
  /**
   * A DSO control signal under §14a EnWG (its source is listed in `grid.section14a.sources`): it
   * limits the grid draw of the controllable devices, never below the §14a minimum.
   */
  readonly section14a?: boolean;
}

export interface GridSignalsInput {
  /** Every active import cap (most restrictive wins; all are shown as reasons). */
  readonly importLimits: readonly ActiveGridSignal[];
  readonly exportLimits: readonly ActiveGridSignal[];
  /** Site dispatch set-point (W, + import, - export); acts as an import cap when >= 0 and as "no import" below 0. */
  readonly setpoint?: ActiveGridSignal;
  readonly simple?: ActiveGridSignal;
  /** Safe mode: a source is unreachable or a limit ended without a successor. */
  readonly fallback?: { readonly importLimitW: number; readonly exportLimitW?: number; readonly why: string };
  /** Contracted import capacity of the site, W: no signal raises the site above it. */
  readonly siteLimitW: number;
  /** Main fuse as power (fuse A x 3 phases x V), W, when the fuse is configured: no signal raises the site above it. */
  readonly fuseW?: number;
  readonly marginW: number;
  /**
   * The load the gateway does not control at the last meter sample, each charger's draw taken as it
   * was when the meter sampled (W); the policy works it out from the snapshot when absent.
   */
  readonly otherLoadW?: number;
  /**
   * §14a EnWG minimum grid draw of the controllable devices behind the EMS, W
   * (P_min = 4.2 kW + (n − 1) · GZF · 4.2 kW); applies only to signals marked `section14a`.
   */
  readonly section14aMinW: number;
  readonly staleAfterMs: number;
  /** Battery id when the battery is a controllable load under the grid limit. */
  readonly batteryId?: string;
  readonly simpleLevelFactors: readonly number[];
}

/** §14a EnWG minimum (BK6-22-300 Annex 1, 4.5.2): 4.2 kW + (n − 1) · GZF(n) · 4.2 kW for n devices behind one EMS. */
export function section14aMinimumW(devices: number, gzf: Readonly<Record<string, number>>, perDeviceW = 4200): number {
  const n = Math.max(1, Math.floor(devices));
  if (n === 1) return perDeviceW;
  // The table is given for n = 2..k; a larger n takes the factor of the largest n listed.
  const listed = Object.keys(gzf)
    .map(Number)
    .filter((k) => Number.isFinite(k) && k >= 2)
    .sort((a, b) => a - b);
  let factor = 1;
  for (const k of listed) if (k <= n) factor = gzf[String(k)] as number;
  return perDeviceW + (n - 1) * factor * perDeviceW;
}
