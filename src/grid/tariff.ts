import cron from 'node-cron';
import type { TariffConfig } from '../config/sections/grid.js';

/**
 * Tariffs: static time-of-use periods written as node-cron expressions
 * (parsed and validated by node-cron, evaluated here on whatever instant is
 * asked, so a virtual clock drives them), dynamic price series, and the
 * composition energy + grid fee + levies + taxes, for import and export.
 */

/** A minute-resolution matcher of a cron expression in a time zone. */
export type CronMatcher = (ts: number) => boolean;

const FULL_DOM = 31;
const FULL_DOW = 7;

/** Validate a cron expression; the error names the field node-cron objects to. */
export function validateCron(expr: string): string | undefined {
  const d = cron.validateDetailed(expr);
  if (d.valid) return undefined;
  return d.errors.map((e) => `${e.field}: ${e.message}`).join('; ') || 'invalid cron expression';
}

function partsIn(ts: number, timeZone: string) {
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    weekday: 'short',
  });
  const p: Record<string, string> = {};
  for (const x of f.formatToParts(new Date(ts))) p[x.type] = x.value;
  const wd = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(p['weekday'] ?? '');
  return {
    year: Number(p['year']),
    month: Number(p['month']),
    day: Number(p['day']),
    hour: Number(p['hour']),
    minute: Number(p['minute']),
    weekday: wd,
  };
}

/**
 * Compile a cron expression (5 or 6 fields; the seconds field is ignored:
 * prices change per minute at most). Supports node-cron's `L` (last day of
 * month) and `d#n` (n-th weekday). Day-of-month and day-of-week combine as
 * in POSIX cron: when both are restricted, either matches.
 */
export function compileCron(expr: string, timeZone = 'UTC'): CronMatcher {
  const err = validateCron(expr);
  if (err) throw new Error(`invalid cron expression "${expr}": ${err}`);
  const f = cron.parse(expr);
  const minutes = new Set(f.minute);
  const hours = new Set(f.hour);
  const months = new Set(f.month);
  const dom = f.dayOfMonth;
  const dow = f.dayOfWeek.map((d) => (d === 7 ? 0 : d));
  const domRestricted = dom.length !== FULL_DOM || dom.some((d) => typeof d === 'string');
  const dowRestricted = dow.length !== FULL_DOW || dow.some((d) => typeof d === 'string');
  new Intl.DateTimeFormat('en-US', { timeZone }); // throws on an unknown time zone, at compile time
  const domMatch = (p: ReturnType<typeof partsIn>) =>
    dom.some((d) => {
      if (d === 'L') return p.day === new Date(Date.UTC(p.year, p.month, 0)).getUTCDate();
      return d === p.day;
    });
  const dowMatch = (p: ReturnType<typeof partsIn>) =>
    dow.some((d) => {
      if (typeof d === 'string') {
        const m = /^(\d)#(\d)$/.exec(d);
        if (!m) return false;
        return Number(m[1]) % 7 === p.weekday && Math.ceil(p.day / 7) === Number(m[2]);
      }
      return d === p.weekday;
    });
  return (ts) => {
    const p = partsIn(ts, timeZone);
    if (!minutes.has(p.minute) || !hours.has(p.hour) || !months.has(p.month)) return false;
    if (domRestricted && dowRestricted) return domMatch(p) || dowMatch(p);
    return domMatch(p) && dowMatch(p);
  };
}

/** One point of a dynamic price series, per kWh in the tariff currency. */
export interface PricePoint {
  readonly start: number;
  readonly end: number;
  readonly price: number;
  readonly source: string;
}

export interface PriceComponent {
  readonly name: string;
  readonly kind: 'energy' | 'gridFee' | 'levy' | 'tax';
  readonly direction: 'import' | 'export';
  readonly perKwh: number;
  /** Which rule gave the price: a TOU period, the default, or the dynamic series. */
  readonly from: string;
}

export interface PriceBreakdown {
  readonly ts: number;
  readonly currency: string;
  /** What one kWh taken from the grid costs, VAT included. */
  readonly importPerKwh: number;
  /** What one kWh fed into the grid earns. */
  readonly exportPerKwh: number;
  readonly components: readonly PriceComponent[];
  /** True when a dynamic component fell back to its static price (series missing or stale). */
  readonly dynamicMissing: boolean;
}

export interface Tariff {
  priceAt(ts: number): PriceBreakdown;
  /** Import/export prices on a grid of `stepMs` from `from` to `to` (planning). */
  series(from: number, to: number, stepMs: number): PriceBreakdown[];
}

/**
 * Build the tariff. `dynamic` gives the current dynamic series (OpenADR
 * PRICE, URL, MQTT: the feed keeps the last good one).
 */
export function createTariff(cfg: TariffConfig, dynamic: () => readonly PricePoint[] = () => []): Tariff {
  const comps = cfg.components.map((c) => ({
    ...c,
    periods: c.periods.map((p) => ({ ...p, match: compileCron(p.cron, cfg.timezone) })),
  }));
  const priceAt = (ts: number): PriceBreakdown => {
    const series = dynamic();
    let dynamicMissing = false;
    const components: PriceComponent[] = [];
    for (const c of comps) {
      let perKwh: number | undefined;
      let from = 'default';
      if (c.dynamic) {
        // The newest source wins where series overlap (the list is in arrival order).
        for (let i = series.length - 1; i >= 0; i--) {
          const p = series[i];
          if (p && p.start <= ts && ts < p.end) {
            perKwh = p.price;
            from = `dynamic:${p.source}`;
            break;
          }
        }
        if (perKwh === undefined) dynamicMissing = true;
      }
      if (perKwh === undefined) {
        const period = c.periods.find((p) => p.match(ts));
        if (period) {
          perKwh = period.pricePerKwh;
          from = `period:${period.name ?? period.cron}`;
        }
      }
      components.push({ name: c.name, kind: c.kind, direction: c.direction, perKwh: perKwh ?? c.defaultPerKwh, from });
    }
    const sum = (dir: 'import' | 'export') =>
      components.filter((c) => c.direction === dir).reduce((s, c) => s + c.perKwh, 0);
    return {
      ts,
      currency: cfg.currency,
      importPerKwh: round6(sum('import') * (1 + cfg.vatPct / 100)),
      exportPerKwh: round6(sum('export')),
      components,
      dynamicMissing,
    };
  };
  return {
    priceAt,
    series(from, to, stepMs) {
      const out: PriceBreakdown[] = [];
      for (let t = from; t < to; t += stepMs) out.push(priceAt(t));
      return out;
    },
  };
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

/**
 * Parse a price series document: JSON `[{start, end?, price}]` (or
 * `{prices: [...]}`, ISO or epoch ms), or CSV lines `start,price[,end]`
 * with an optional header. A point without an end lasts until the next one
 * (the last one `defaultSlotMs`). Returns field-named errors for bad rows.
 */
export function parsePriceSeries(
  text: string,
  format: 'json' | 'csv',
  opts: { source: string; perMwh?: boolean; defaultSlotMs?: number },
): { points: PricePoint[]; errors: string[] } {
  const errors: string[] = [];
  const rows: Array<{ start: number; end?: number; price: number }> = [];
  const scale = opts.perMwh ? 0.001 : 1;
  const time = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : Number.NaN);
  if (format === 'json') {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      return { points: [], errors: [`(root): not JSON: ${(err as Error).message}`] };
    }
    const list = Array.isArray(doc) ? doc : (doc as { prices?: unknown })?.prices;
    if (!Array.isArray(list)) return { points: [], errors: ['(root): expected an array or {prices: [...]}'] };
    list.forEach((r: unknown, i) => {
      const o = (r ?? {}) as Record<string, unknown>;
      const start = time(o['start'] ?? o['startsAt'] ?? o['from']);
      const end = o['end'] !== undefined ? time(o['end']) : undefined;
      const price = Number(o['price'] ?? o['value'] ?? o['total']);
      if (Number.isNaN(start)) errors.push(`[${i}].start: not a time`);
      else if (!Number.isFinite(price)) errors.push(`[${i}].price: not a number`);
      else if (end !== undefined && (Number.isNaN(end) || end <= start)) errors.push(`[${i}].end: not after start`);
      else rows.push({ start, ...(end !== undefined ? { end } : {}), price: price * scale });
    });
  } else {
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .forEach((line, i) => {
        if (!line || line.startsWith('#')) return;
        const [a, b, c] = line.split(/[;,]/).map((s) => s.trim());
        const start = time(/^\d+$/.test(a ?? '') ? Number(a) : a);
        const price = Number(b);
        if (i === 0 && Number.isNaN(start)) return; // header
        if (Number.isNaN(start)) errors.push(`line ${i + 1}.start: not a time`);
        else if (!Number.isFinite(price)) errors.push(`line ${i + 1}.price: not a number`);
        else rows.push({ start, ...(c ? { end: time(/^\d+$/.test(c) ? Number(c) : c) } : {}), price: price * scale });
      });
  }
  rows.sort((x, y) => x.start - y.start);
  const slot = opts.defaultSlotMs ?? 3_600_000;
  const points = rows.map((r, i) => ({
    start: r.start,
    end: r.end ?? rows[i + 1]?.start ?? r.start + slot,
    price: r.price,
    source: opts.source,
  }));
  return { points, errors };
}

/**
 * Cost of a session from its meter samples (epoch ms, cumulative Wh): each
 * increment is priced with the tariff in force at the middle of its
 * interval, so a session across a TOU boundary pays each side's price.
 */
export function sessionCost(
  tariff: Tariff,
  samples: ReadonlyArray<{ readonly ts: number; readonly energyWh: number }>,
): { readonly cost: number; readonly energyKwh: number; readonly currency: string } {
  let cost = 0;
  let wh = 0;
  let currency = '';
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    if (!a || !b || b.ts <= a.ts) continue;
    const d = b.energyWh - a.energyWh;
    if (d <= 0) continue;
    const p = tariff.priceAt((a.ts + b.ts) / 2);
    currency = p.currency;
    cost += (d / 1000) * p.importPerKwh;
    wh += d;
  }
  return { cost: Math.round(cost * 10_000) / 10_000, energyKwh: wh / 1000, currency };
}
