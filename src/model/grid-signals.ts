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
  readonly siteLimitW: number;
  readonly marginW: number;
  readonly floorPerDeviceW: number;
  readonly staleAfterMs: number;
  /** Battery id when the battery is a controllable load under the grid limit. */
  readonly batteryId?: string;
  readonly simpleLevelFactors: readonly number[];
}
