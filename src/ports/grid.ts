import type { GridSignal, SourceHealth } from '../model/grid.js';

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
