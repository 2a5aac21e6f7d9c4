import type { GridSignal, SignalKind } from '../../src/model/grid.js';
import { type EventPayloadDescriptor, EventSchema, type OadrEvent, type Program } from './schemas.js';

/** A field-level reason to refuse an event or one of its payloads. */
export interface EventIssue {
  readonly eventId: string;
  readonly field: string;
  readonly message: string;
}

const DURATION_RE =
  /^(-?)P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)([DW]))?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * Add an ISO 8601 duration to an instant. Years and months are calendar
 * units (UTC), weeks and days are 24 h, the time part is exact. Returns
 * undefined for a string that is not a duration.
 */
export function addDuration(startMs: number, duration: string): number | undefined {
  const m = DURATION_RE.exec(duration);
  if (!m) return undefined;
  const sign = m[1] === '-' ? -1 : 1;
  const n = (i: number) => (m[i] ? Number(m[i]) : 0);
  const d = new Date(startMs);
  if (m[2] || m[3]) {
    d.setUTCFullYear(d.getUTCFullYear() + sign * n(2));
    d.setUTCMonth(d.getUTCMonth() + sign * n(3));
  }
  const dayUnits = m[5] === 'W' ? 7 : 1;
  const ms = n(4) * dayUnits * 86_400_000 + n(6) * 3_600_000 + n(7) * 60_000 + Math.round(Number(m[8] ?? 0) * 1000);
  return d.getTime() + sign * ms;
}

/** Duration in ms measured from `startMs` (calendar-aware). */
export function durationMs(duration: string, startMs = 0): number | undefined {
  const end = addDuration(startMs, duration);
  return end === undefined ? undefined : end - startMs;
}

const KIND: Record<string, SignalKind> = {
  IMPORT_CAPACITY_LIMIT: 'importLimit',
  EXPORT_CAPACITY_LIMIT: 'exportLimit',
  DISPATCH_SETPOINT: 'setpoint',
  PRICE: 'price',
  SIMPLE: 'simple',
  GHG: 'ghg',
};

/** Power units to W. OpenADR's definitions use KW for the capacity payloads; W and MW are accepted too. */
const POWER_FACTOR: Record<string, number> = { W: 1, KW: 1000, MW: 1_000_000 };
/** Carbon intensity units to g/kWh. */
const GHG_FACTOR: Record<string, number> = { G_PER_KWH: 1, 'G/KWH': 1, KG_PER_MWH: 1, KG_PER_KWH: 1000 };
/** Price units to "per kWh". */
const PRICE_FACTOR: Record<string, number> = { KWH: 1, WH: 1000, MWH: 0.001 };

/** How each scaled payload's value becomes site units, and the unit assumed when the descriptor names none. */
const POWER = { quantity: 'power', defaultUnit: 'KW', factors: POWER_FACTOR };
const SCALES: Partial<Record<SignalKind, { quantity: string; defaultUnit: string; factors: Record<string, number> }>> =
  {
    importLimit: POWER,
    exportLimit: POWER,
    setpoint: POWER,
    price: { quantity: 'price', defaultUnit: 'KWH', factors: PRICE_FACTOR },
    ghg: { quantity: 'GHG', defaultUnit: 'G_PER_KWH', factors: GHG_FACTOR },
  };

export interface ResolvedInterval {
  readonly id: number;
  readonly start: number;
  /** Infinity for a zero or absent duration of a limit (the spec's "PT0S: instantaneous or infinity"). */
  readonly end: number;
  readonly payloads: ReadonlyArray<{ type: string; values: readonly unknown[] }>;
}

/**
 * Interval timing per the spec: an interval's own intervalPeriod overrides
 * the event's; intervals without one follow each other from the event's
 * start, each lasting the event's duration.
 */
export function resolveIntervals(
  event: OadrEvent,
  program?: Program,
): { intervals: ResolvedInterval[]; issues: EventIssue[] } {
  const issues: EventIssue[] = [];
  const out: ResolvedInterval[] = [];
  const base = event.intervalPeriod ?? program?.intervalPeriod ?? undefined;
  let cursor = base ? Date.parse(base.start) : Number.NaN;
  const baseDuration = base?.duration;
  event.intervals.forEach((iv, i) => {
    const own = iv.intervalPeriod ?? undefined;
    const start = own ? Date.parse(own.start) : cursor;
    if (Number.isNaN(start)) {
      issues.push({
        eventId: event.id,
        field: `intervals[${i}].intervalPeriod`,
        message: 'no start (neither the interval nor the event has an intervalPeriod)',
      });
      return;
    }
    const dur = own?.duration ?? baseDuration;
    const len = dur === undefined ? 0 : durationMs(dur, start);
    if (len === undefined || len < 0) {
      issues.push({
        eventId: event.id,
        field: `intervals[${i}].intervalPeriod.duration`,
        message: `bad duration ${dur}`,
      });
      return;
    }
    const end = len === 0 ? Number.POSITIVE_INFINITY : start + len;
    out.push({ id: iv.id, start, end, payloads: iv.payloads });
    cursor = end;
  });
  return { intervals: out, issues };
}

export interface ConvertOptions {
  readonly venName: string;
  /** Our resource names (site, battery, ...). */
  readonly resourceNames: readonly string[];
  readonly source?: string;
  /** Gateway clock minus VTN clock, ms: added to VTN times. */
  readonly clockOffsetMs?: number;
  readonly now: number;
}

/** Does an event's target list address us? Untargeted events address every VEN of the program. */
export function targetsUs(targets: OadrEvent['targets'], venName: string, resourceNames: readonly string[]): boolean {
  if (!targets || targets.length === 0) return true;
  const names = new Set([venName, ...resourceNames]);
  let constrained = false;
  for (const t of targets) {
    if (typeof t === 'string') {
      // 3.1: targets are opaque strings agreed with the VTN.
      constrained = true;
      if (names.has(t)) return true;
      continue;
    }
    if (t.type === 'VEN_NAME' || t.type === 'RESOURCE_NAME') {
      constrained = true;
      if (t.values.some((v) => typeof v === 'string' && names.has(v))) return true;
    }
    // Other target types (GROUP, POSTAL_CODE, ...) are the VTN's business: the VTN only lists events for us.
  }
  return !constrained;
}

/**
 * Turn one validated OpenADR event into grid signals in site units. The
 * whole event is refused on any malformed payload so a half-understood event
 * never replaces the previous safe state; unknown payload types are skipped
 * (and reported) because programs may carry informational payloads.
 */
export function eventToSignals(
  event: OadrEvent,
  program: Program | undefined,
  opts: ConvertOptions,
): { signals: GridSignal[]; issues: EventIssue[]; skipped: EventIssue[]; targeted: boolean } {
  const source = opts.source ?? 'openadr';
  const issues: EventIssue[] = [];
  const skipped: EventIssue[] = [];
  if (!targetsUs(event.targets, opts.venName, opts.resourceNames)) {
    return { signals: [], issues, skipped, targeted: false };
  }
  const { intervals, issues: timing } = resolveIntervals(event, program);
  issues.push(...timing);
  const descriptors: EventPayloadDescriptor[] = [
    ...(event.payloadDescriptors ?? []),
    ...((program?.payloadDescriptors ?? []) as EventPayloadDescriptor[]),
  ];
  const descriptorFor = (type: string) => descriptors.find((d) => d.payloadType === type);
  const offset = opts.clockOffsetMs ?? 0;
  const signals: GridSignal[] = [];
  for (const iv of intervals) {
    iv.payloads.forEach((p, pi) => {
      const field = `intervals[id=${iv.id}].payloads[${pi}]`;
      const kind = KIND[p.type];
      if (!kind) {
        skipped.push({ eventId: event.id, field: `${field}.type`, message: `payload type ${p.type} not used` });
        return;
      }
      const raw = p.values[0];
      if (typeof raw !== 'number' || !Number.isFinite(raw)) {
        issues.push({
          eventId: event.id,
          field: `${field}.values[0]`,
          message: `expected a number, got ${JSON.stringify(raw)}`,
        });
        return;
      }
      const desc = descriptorFor(p.type);
      let value = raw;
      const scale = SCALES[kind];
      if (scale) {
        const units = (desc?.units ?? scale.defaultUnit).toUpperCase();
        const f = scale.factors[units];
        if (f === undefined) {
          issues.push({
            eventId: event.id,
            field: 'payloadDescriptors.units',
            message: `unknown ${scale.quantity} unit ${units} for ${p.type}`,
          });
          return;
        }
        value = raw * f;
      }
      if ((kind === 'importLimit' || kind === 'exportLimit') && value < 0) {
        issues.push({ eventId: event.id, field: `${field}.values[0]`, message: `negative capacity limit ${raw}` });
        return;
      }
      if (kind === 'simple' && (!Number.isInteger(raw) || raw < 0 || raw > 3)) {
        issues.push({
          eventId: event.id,
          field: `${field}.values[0]`,
          message: `SIMPLE level must be 0..3, got ${raw}`,
        });
        return;
      }
      const currency = kind === 'price' ? (desc?.currency ?? undefined) : undefined;
      signals.push({
        kind,
        value,
        source,
        eventId: event.id,
        ...(event.eventName ? { eventName: event.eventName } : {}),
        start: iv.start + offset,
        end: iv.end + offset,
        ...(event.priority !== undefined && event.priority !== null ? { priority: event.priority } : {}),
        ...(currency ? { currency } : {}),
        receivedAt: opts.now,
      });
    });
  }
  if (issues.length > 0) return { signals: [], issues, skipped, targeted: true };
  return { signals, issues, skipped, targeted: true };
}

/**
 * Validate one event as the VTN listed it. A refused event still names its
 * id when it has one, so the caller can keep that event's last good version.
 */
export function parseEvent(
  raw: unknown,
): { ok: true; event: OadrEvent } | { ok: false; id: string | undefined; issue: EventIssue } {
  const parsed = EventSchema.safeParse(raw);
  if (parsed.success) return { ok: true, event: parsed.data };
  const id =
    raw && typeof raw === 'object' && 'id' in raw && typeof (raw as { id: unknown }).id === 'string'
      ? (raw as { id: string }).id
      : undefined;
  const issue = parsed.error.issues[0];
  return {
    ok: false,
    id,
    issue: {
      eventId: id ?? '?',
      field: issue?.path.map(String).join('.') || '(root)',
      message: issue?.message ?? 'invalid',
    },
  };
}
