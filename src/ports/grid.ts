import type { Registry } from 'prom-client';
import type { Clock } from '../model/clock.js';
import type { GridSignal, SourceHealth, VenMeasurements } from '../model/grid.js';
import type { Logger } from '../util/logger.js';

/**
 * Where a grid adapter (OpenADR VEN, OSCP flexibility provider) puts what
 * its source says and how reachable the source is. The grid service's
 * signal store implements it; the adapter never sees the store itself.
 */
export interface GridSignalSink {
  /** Declare a source whose silence must engage the fallback. */
  monitor(source: string): void;
  /** The source answered (a poll, a heartbeat, a message). */
  heard(source: string, now?: number): void;
  /** The source failed to answer. */
  unreachable(source: string, error: string, now?: number): void;
  /** Replace everything a source says (one poll's worth); marks the source as heard. */
  replace(source: string, signals: readonly GridSignal[], now?: number): void;
  /** Health of every known source at `now`. */
  sources(now: number): readonly SourceHealth[];
}

/** What every grid adapter (OpenADR VEN, OSCP flexibility provider) is given by the composition root. */
export interface GridAdapterDeps {
  readonly clock: Clock;
  readonly log: Logger;
  /** The gateway's registry (grid metrics are shared through it). */
  readonly metrics: Registry;
  readonly store: GridSignalSink;
  /** The site's measured response, reported upstream. */
  readonly measurements: () => VenMeasurements;
  /**
   * Base URL of the gateway's HTTP server once it listens (e.g.
   * `http://127.0.0.1:8080`): the adapter's peer routes are served there,
   * and it tells its peer to call back there unless configured otherwise.
   */
  readonly baseUrl?: () => string | undefined;
}
