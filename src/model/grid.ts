/**
 * Grid signals as the domain knows them: what a utility, DSO or aggregator
 * asks of the site, whatever protocol carried it (OpenADR, OSCP, HTTP,
 * MQTT), and what the site measures in answer. Protocol adapters produce
 * and consume these types; the grid service stores and judges them.
 */

/** `ghg`: grid carbon intensity, g CO2 per kWh (OpenADR GHG), for planning into green hours. */
export type SignalKind = 'importLimit' | 'exportLimit' | 'setpoint' | 'price' | 'simple' | 'ghg';

/**
 * One grid signal from any source (OpenADR interval, OSCP forecast block,
 * HTTP/MQTT simple signal). Values are already in site units: W for limits
 * and set-points (+ import, - export), currency per kWh for prices, level
 * 0..3 for SIMPLE.
 */
export interface GridSignal {
  readonly kind: SignalKind;
  readonly value: number;
  /** `openadr`, `oscp`, `http`, `mqtt`, ... */
  readonly source: string;
  readonly eventId: string;
  readonly eventName?: string;
  /** Epoch ms, inclusive. */
  readonly start: number;
  /** Epoch ms, exclusive; `Infinity` for an open-ended signal. */
  readonly end: number;
  /** OpenADR priority (lower is more important); informational. */
  readonly priority?: number;
  readonly currency?: string;
  readonly receivedAt: number;
}

export interface SourceHealth {
  readonly source: string;
  /** A monitored source that stays silent longer than `sourceTimeoutMs` engages the fallback. */
  readonly monitored: boolean;
  readonly reachable: boolean;
  readonly lastHeardAt?: number;
  readonly lastError?: string;
  readonly unreachableSince?: number;
}

/** What the site measures, for reports upstream (W, + import / charging). */
export interface VenMeasurements {
  /** Net site power at the grid connection, W (+ import, - export). */
  readonly siteW?: number;
  /** Power the site could still shed or feed on request, W. */
  readonly flexibleW?: number;
  /** Per registered resource (battery, v2g group...), W. */
  readonly resources?: Readonly<Record<string, number>>;
  /** The binding import limit as judged at the grid meter; `met: false` is reported as not met. */
  readonly limit?: GridLimitStatus;
}

/**
 * Whether the most restrictive grid import limit in force is met at the grid
 * meter. `met: false` is said loudly (an event, the API's grid view, the
 * OpenADR report): a limit shown as active is a limit met at the meter.
 */
export interface GridLimitStatus {
  readonly ts: number;
  /** The most restrictive import limit in force, W (after clamping to the contract and fuse). */
  readonly importLimitW?: number;
  /** The signal behind it (label), e.g. `openadr event "peak" (ev-1) until …`. */
  readonly binding?: string;
  readonly source?: string;
  readonly eventId?: string;
  /** Grid meter reading judged, W (+ import). */
  readonly gridW?: number;
  /** `undefined` while no limit applies, within the response time, or without a fresh meter. */
  readonly met?: boolean;
  /** Since when the site has been above the limit (epoch ms). */
  readonly overSince?: number;
  /** Why it is not met (or what was clamped). */
  readonly why?: string;
}
