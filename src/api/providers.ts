import type { GridEventView } from '../grid/service.js';
import type { OcppCommands, OcppOutboxCharger } from '../ports/ocpp.js';

/**
 * What the API needs from components other engineers own (OCPP proxy, grid
 * signals, fleet). The composition root passes implementations; every
 * provider is optional and a command whose provider is missing answers 503.
 * Keep these interfaces small: one capability each.
 */

export type { CommandResult, OcppCommands, OcppOutboxCharger } from '../ports/ocpp.js';

/** A demand-response or grid-operator signal, as the grid area sees it. */
export type GridEventInfo = GridEventView;

export type SimpleSignalOutcome =
  | { readonly ok: true; readonly eventId: string; readonly signals: readonly unknown[] }
  | { readonly ok: false; readonly errors: ReadonlyArray<{ readonly path: string; readonly message: string }> };

/** Grid signals (DR events, active limits) as the grid service offers them. */
export interface GridProvider {
  events(opts?: { from?: number; to?: number }): readonly GridEventInfo[];
  /** `GET /api/v1/grid`: active and next signals, sources, fallback, price. */
  status?(): unknown;
  /** `POST /api/v1/grid/limit`: a simple DR signal from a utility without OpenADR. */
  applySimpleSignal?(body: unknown, source?: string): SimpleSignalOutcome;
  /** Called on every change of signals; the API turns changes into `grid.event` live events. */
  onChange?(listener: () => void): () => void;
  /** Tariff on a grid of `stepMs` (import/export per kWh); absent or empty when no tariff is configured. */
  prices?(from: number, to: number, stepMs: number): ReadonlyArray<PriceAt>;
}

/** One point of the tariff timeline. */
export interface PriceAt {
  readonly ts: number;
  readonly currency: string;
  readonly importPerKwh: number;
  readonly exportPerKwh: number;
}

/** The operator's manual per-EVSE current caps (`src/state/operator-commands.ts`); a cap of 0 A pauses. */
export interface OperatorControls {
  /** `null` removes the cap. */
  setEvseCap(evseId: string, maxCurrentA: number | null, by: string): void;
  input(now: number): {
    readonly caps: ReadonlyArray<{ evseId: string; maxCurrentA: number; by: string; since: number }>;
  };
}

/** What the external authoriser / local list answers for an idTag. */
export interface AuthorisationResult {
  readonly status: 'Accepted' | 'Blocked' | 'Expired' | 'Invalid';
  /** Where the answer came from: `remote`, `cache`, `local-list`, `fallback`. */
  readonly source: string;
  readonly vehicleId?: string;
}

/** A message the CMS refused for good (poison), parked so the queue behind it moves on. */
export interface OcppParkedMessage {
  readonly seq: number;
  readonly chargerId: string;
  readonly msgId: string;
  readonly action: string;
  readonly createdAt: number;
  readonly attempts: number;
  readonly lastError?: string;
  readonly sessionId?: string;
}

/** The OCPP proxy's durable outbox (the proxy itself implements this). */
export interface OcppOutboxProvider {
  outboxSummary(): readonly OcppOutboxCharger[];
  /** Newest first. */
  parked(limit?: number, chargerId?: string): readonly OcppParkedMessage[];
  /** Put parked messages back in line; returns how many were requeued. */
  retryParked(seqs: readonly number[]): number;
}

/** Optional providers the composition root may pass to `createApiServer`. */
export interface ApiProviders {
  readonly ocpp?: OcppCommands;
  readonly grid?: GridProvider;
  readonly ocppOutbox?: OcppOutboxProvider;
  readonly operator?: OperatorControls;
}
