import type { GatewayConfig } from '../config/schema.js';
import type { GridLimitStatus } from '../model/grid.js';
import { type GridSignalsInput, section14aMinimumW } from '../model/grid-signals.js';
import type { Logger } from '../util/logger.js';

export type { GridLimitStatus };

/** A grid import limit must be met at the meter this long after it starts (issue 15: 10 s). */
export const LIMIT_RESPONSE_MS = 10_000;
/** Over the limit this long, continuously, after the response time: not met (one late meter sample is not). */
const OVER_FOR_MS = 2_000;

/** What the signal store needs to clamp signals and apply §14a. */
export interface GridLimitOptions {
  /** Main fuse as power, W (undefined without `site.fuseA`). */
  readonly fuseW?: number;
  readonly section14aMinW: number;
  readonly section14aSources: readonly string[];
}

export function gridLimitOptions(config: GatewayConfig): GridLimitOptions {
  const s14a = config.grid.section14a;
  const devices = s14a.devices ?? Math.max(1, config.chargers.length + (config.grid.vpp.battery ? 1 : 0));
  return {
    ...(config.site.fuseA !== undefined ? { fuseW: config.site.fuseA * 3 * config.site.voltageV } : {}),
    section14aMinW: section14aMinimumW(devices, s14a.gzf, s14a.perDeviceW),
    section14aSources: s14a.sources,
  };
}

/** Old configs keep loading: a deprecated key is ignored with a warning. */
export function warnDeprecatedGridKeys(config: GatewayConfig, log: Logger): void {
  if (config.grid.floorPerDeviceW !== undefined) {
    log.warn(
      { floorPerDeviceW: config.grid.floorPerDeviceW },
      'grid.floorPerDeviceW is deprecated and ignored: DR and contract limits have no per-session floor any more; the §14a EnWG minimum applies only to the sources in grid.section14a.sources',
    );
  }
}

interface Candidate {
  readonly w: number;
  readonly label: string;
  readonly source?: string;
  readonly eventId?: string;
  readonly why?: string;
}

/** The most restrictive import limit of a grid input, clamped as the grid-signals policy clamps it. */
export function bindingImportLimit(input: GridSignalsInput): Candidate | undefined {
  const ceiling = Math.min(input.siteLimitW, input.fuseW ?? Number.POSITIVE_INFINITY);
  const list: Candidate[] = [];
  for (const s of input.importLimits) {
    if (s.section14a) {
      if (s.value < input.section14aMinW)
        list.push({
          w: s.value,
          label: s.label,
          source: s.source,
          eventId: s.eventId,
          why: `the §14a minimum of the controllable devices (${kw(input.section14aMinW)}) is above the ${kw(s.value)} limit`,
        });
      continue; // a §14a signal caps the controllable devices, not the site: judged by its minimum only
    }
    const clamped = s.value > ceiling;
    list.push({
      w: Math.min(s.value, ceiling),
      label: s.label,
      source: s.source,
      eventId: s.eventId,
      ...(clamped ? { why: `${kw(s.value)} asked is above the ${kw(ceiling)} contract/fuse: clamped` } : {}),
    });
  }
  if (input.setpoint && input.setpoint.value >= 0) {
    const sp = input.setpoint;
    list.push({ w: Math.min(sp.value, ceiling), label: sp.label, source: sp.source, eventId: sp.eventId });
  }
  if (input.fallback) list.push({ w: Math.min(input.fallback.importLimitW, ceiling), label: input.fallback.why });
  let best: Candidate | undefined;
  for (const c of list) if (!best || c.w < best.w || (c.w === best.w && c.why && !best.why)) best = c;
  return best;
}

/**
 * Judges the binding import limit at the grid meter on every sample and says
 * so when it is not met: a logged warning and `onChange` (the composition
 * turns it into a bus event → alert and live event), and `status()` for the
 * API's grid view and the OpenADR report.
 */
export class LimitWatch {
  private current: GridLimitStatus;
  private startedAt = new Map<string, number>();

  constructor(
    private readonly o: {
      readonly input: (now: number) => GridSignalsInput;
      readonly toleranceW: number;
      readonly log: Logger;
      readonly onChange?: (s: GridLimitStatus) => void;
    },
  ) {
    this.current = { ts: 0 };
  }

  status(): GridLimitStatus {
    return this.current;
  }

  observe(now: number, gridW: number): void {
    const b = bindingImportLimit(this.o.input(now));
    const prev = this.current;
    if (!b) {
      this.set({ ts: now, gridW });
      return;
    }
    const key = `${b.source ?? 'fallback'}:${b.eventId ?? ''}:${b.w}`;
    const start = this.startedAt.get(key) ?? now;
    this.startedAt.set(key, start);
    if (this.startedAt.size > 64) this.startedAt.delete(this.startedAt.keys().next().value as string);
    const over = gridW > b.w + this.o.toleranceW;
    const sameLimit = prev.importLimitW === b.w && prev.binding === b.label;
    const overSince = over ? (sameLimit && prev.overSince !== undefined ? prev.overSince : now) : undefined;
    const head = {
      ts: now,
      importLimitW: b.w,
      binding: b.label,
      ...(b.source !== undefined ? { source: b.source } : {}),
      ...(b.eventId !== undefined ? { eventId: b.eventId } : {}),
      gridW,
      ...(overSince !== undefined ? { overSince } : {}),
    };
    if (b.why?.startsWith('the §14a minimum')) {
      this.set({ ...head, met: false, why: `cannot be met: ${b.why}` });
      return;
    }
    // Under the limit: met. Over it: still responding within the response time, not met after it.
    const judged = now - start >= LIMIT_RESPONSE_MS;
    const notMet = judged && overSince !== undefined && now - overSince >= OVER_FOR_MS;
    const met = !over ? true : notMet ? false : judged && prev.met === true && sameLimit ? true : undefined;
    const why = notMet
      ? `not met: grid meter at ${kw(gridW)} is above the ${kw(b.w)} limit since ${new Date(overSince as number).toISOString()}${b.why ? `; ${b.why}` : ''}`
      : b.why;
    this.set({ ...head, ...(met !== undefined ? { met } : {}), ...(why ? { why } : {}) });
  }

  private set(next: GridLimitStatus): void {
    const prev = this.current;
    this.current = next;
    if (prev.met === next.met && prev.binding === next.binding) return;
    if (next.met === false)
      this.o.log.warn(
        { limitW: next.importLimitW, gridW: next.gridW, binding: next.binding },
        `grid limit ${next.why}`,
      );
    else if (prev.met === false) this.o.log.info({ limitW: next.importLimitW }, 'grid limit met again');
    this.o.onChange?.(next);
  }
}

function kw(w: number): string {
  return `${(w / 1000).toFixed(1)} kW`;
}
