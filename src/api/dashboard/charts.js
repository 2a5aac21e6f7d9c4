// History chart (24 h of the local telemetry store) and the grid timeline,
// drawn as plain SVG with real axes: time on x, kW on y.
import { esc, hhmm, signalName as short } from './fmt.js';

export const HISTORY_SERIES = [
  { key: 'grid.powerW', label: 'grid (+ import, − export)', color: 'var(--grid)' },
  { key: 'pv.powerW', label: 'solar', color: 'var(--pv)' },
  { key: 'battery.powerW', label: 'battery (+ charge)', color: 'var(--bat)' },
  { key: 'evses.powerW', label: 'chargers', color: 'var(--ev)' },
  { key: 'site.limitW', label: 'site import limit', color: 'var(--bad)', dash: true },
  { key: 'evses.limitW', label: 'chargers’ budget', color: 'var(--budget)', dash: true },
];

/** Round numbers for the axis: 1, 2, 5 × 10^n. */
function niceStep(span, ticks) {
  const raw = span / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const n = raw / mag;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
}

const H = 260;
const M = { l: 44, r: 12, t: 24, b: 34 };

/** The series drawn: the site's, plus one charger's when the operator picked one. */
export function historySeries(evseId) {
  return evseId
    ? [...HISTORY_SERIES, { key: `evse.${evseId}.powerW`, label: evseId, color: 'var(--fg)' }]
    : HISTORY_SERIES;
}

export function renderHistory(svg, legend, h, evseId) {
  const list = historySeries(evseId);
  // Drawn at the element's own width, so labels keep their size on a phone and on a wall screen.
  const W = Math.max(300, Math.round(svg.clientWidth || 720));
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const from = Date.parse(h.from);
  const to = Date.parse(h.to);
  const vals = list.flatMap((s) => (h.series[s.key] || []).map((p) => p[1] / 1000));
  let lo = Math.min(0, ...vals);
  let hi = Math.max(1, ...vals);
  const yStep = niceStep(hi - lo, 5);
  lo = Math.floor(lo / yStep) * yStep;
  hi = Math.ceil(hi / yStep) * yStep;
  const x = (t) => M.l + ((t - from) / (to - from)) * (W - M.l - M.r);
  const y = (kw) => H - M.b - ((kw - lo) / (hi - lo)) * (H - M.t - M.b);
  const out = [];
  // y axis: grid lines with kW labels, and the unit.
  for (let v = lo; v <= hi + 1e-9; v += yStep) {
    out.push(
      `<line class="gridline${Math.abs(v) < 1e-9 ? ' zero' : ''}" x1="${M.l}" x2="${W - M.r}" y1="${y(v)}" y2="${y(v)}"/>`,
    );
    out.push(`<text class="tick y" x="${M.l - 6}" y="${y(v) + 4}">${+v.toFixed(1)}</text>`);
  }
  out.push(`<text class="unit" x="${M.l}" y="13">kW</text>`);
  // x axis: a tick every 3 h on the hour (or every hour for short ranges).
  const hourMs = 3_600_000;
  const hours = (to - from) / hourMs;
  // About one tick per 64 px: 3 h on a desktop, 6 h on a phone for a day.
  const every = [1, 2, 3, 6, 12].find((n) => (hours / n) * 64 <= W - M.l - M.r) * hourMs || 12 * hourMs;
  const midnight = new Date(from);
  midnight.setHours(0, 0, 0, 0);
  // Ticks on local whole hours (00:00, 03:00, …), whatever the time zone.
  for (let t = midnight.getTime(); t <= to; t += every) {
    if (t < from) continue;
    out.push(`<line class="gridline v" x1="${x(t)}" x2="${x(t)}" y1="${M.t}" y2="${H - M.b}"/>`);
    out.push(`<text class="tick x" x="${x(t)}" y="${H - M.b + 16}">${hhmm(t)}</text>`);
  }
  out.push(`<text class="unit x" x="${W - M.r}" y="${H - 4}">time (local)</text>`);
  out.push(`<line class="axis" x1="${M.l}" x2="${M.l}" y1="${M.t}" y2="${H - M.b}"/>`);
  out.push(`<line class="axis" x1="${M.l}" x2="${W - M.r}" y1="${H - M.b}" y2="${H - M.b}"/>`);
  for (const s of list) {
    const pts = h.series[s.key] || [];
    if (pts.length === 0) continue;
    // A gap of more than three steps in the store is drawn as a gap, not a straight line.
    const gap = 3 * (h.step ?? 60_000);
    let d = '';
    let prev;
    for (const [t, v] of pts) {
      // A lone point (just after a gap, or a gateway that only just started) is drawn as a short dash.
      const lone = prev === undefined || t - prev > gap;
      d += `${lone ? 'M' : 'L'}${x(t).toFixed(1)} ${y(v / 1000).toFixed(1)} ${lone ? 'h1 h-1 ' : ''}`;
      prev = t;
    }
    out.push(
      `<path class="series" data-series="${esc(s.key)}" d="${d}" stroke="${s.color}"${s.dash ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
  }
  svg.innerHTML = out.join('');
  legend.innerHTML = list.map((s) => `<span><i style="background:${s.color}"></i>${esc(s.label)}</span>`).join('');
}

const TL = 96;
const ROW_H = 30;

const isPrice = (e) => /price/i.test(e.kind);
/**
 * Grid signals from every source (past events and the ones in force or
 * announced) as one list without repeats: `{source, kind, start, end, value, unit, active}` in ms.
 */
export function signalSpans(events, grid) {
  const out = new Map();
  const add = (e, active) => {
    const start = Date.parse(e.start);
    const key = `${e.source}|${e.kind}|${start}`;
    if (e.status === 'cancelled' || out.has(key)) return;
    out.set(key, {
      source: e.source,
      kind: e.kind,
      start,
      end: e.end ? Date.parse(e.end) : undefined,
      value: e.value,
      unit: e.unit,
      active: active || e.status === 'active',
    });
  };
  for (const a of grid?.active ?? []) add(a, true);
  for (const n of grid?.next ?? []) add(n, false);
  for (const e of events) add(e, false);
  return [...out.values()];
}

/**
 * Six hours back to eighteen ahead: one row per grid signal source and kind
 * (bars with their value), the operator's override, and the price as a step
 * line (the configured tariff, or the price signals a grid operator sends).
 */
export function renderTimeline(svg, { now, spans, override, prices }) {
  const TW = Math.max(300, Math.round(svg.clientWidth || 480));
  const from = now - 6 * 3_600_000;
  const to = now + 18 * 3_600_000;
  const limits = spans.filter((e) => !isPrice(e) && (e.end ?? to) > from && e.start < to);
  const rowKeys = [...new Set(limits.map((e) => `${e.source} ${short(e.kind)}`))].sort();
  const rows = [...rowKeys, 'override', 'price'];
  const H = 22 + rows.length * ROW_H;
  svg.setAttribute('viewBox', `0 0 ${TW} ${H}`);
  svg.style.height = `${H}px`;
  const x = (t) => TL + ((Math.min(Math.max(t, from), to) - from) / (to - from)) * (TW - TL - 6);
  const rowY = (i) => 6 + i * ROW_H;
  const out = [];
  rows.forEach((r, i) => {
    out.push(`<text class="tick row" x="4" y="${rowY(i) + 17}">${esc(r)}</text>`);
    out.push(
      `<line class="gridline" x1="${TL}" x2="${TW - 6}" y1="${rowY(i) + ROW_H - 2}" y2="${rowY(i) + ROW_H - 2}"/>`,
    );
  });
  const every = (TW - TL) / 8 >= 50 ? 3 * 3_600_000 : 6 * 3_600_000;
  const midnight = new Date(from);
  midnight.setHours(0, 0, 0, 0);
  for (let t = midnight.getTime(); t <= to; t += every) {
    if (t >= from) out.push(`<text class="tick x" x="${x(t)}" y="${H - 4}">${hhmm(t)}</text>`);
  }
  const bar = (row, start, end, text, cls) => {
    const x1 = x(start);
    const x2 = x(end ?? to);
    out.push(
      `<rect class="tl-bar ${cls}" x="${x1}" y="${rowY(row) + 4}" width="${Math.max(2, x2 - x1)}" height="${ROW_H - 10}" rx="3"><title>${esc(text)}</title></rect>`,
    );
    if (x2 - x1 > 44) out.push(`<text class="tl-text" x="${x1 + 4}" y="${rowY(row) + 18}">${esc(text)}</text>`);
  };
  for (const e of limits) {
    const v =
      e.value === null || e.value === undefined
        ? ''
        : e.unit === 'W'
          ? `${(e.value / 1000).toFixed(0)} kW`
          : `${e.value}`;
    bar(rowKeys.indexOf(`${e.source} ${short(e.kind)}`), e.start, e.end, v, e.active ? 'active' : '');
  }
  const ov = rowKeys.length;
  if (override) bar(ov, now, Date.parse(override.until), `≤ ${(override.limitW / 1000).toFixed(1)} kW`, 'override');
  const pr = ov + 1;
  const steps =
    prices.points.length > 0
      ? prices.points.map((p) => ({ t: Date.parse(p.ts), end: Date.parse(p.ts) + prices.step, v: p.importPerKwh }))
      : spans
          .filter((e) => isPrice(e) && typeof e.value === 'number')
          .map((e) => ({ t: e.start, end: e.end ?? e.start + 3_600_000, v: e.value }));
  const unit = prices.points.length > 0 ? `${prices.currency ?? ''}/kWh` : (spans.find(isPrice)?.unit ?? '');
  const shown = steps.filter((p) => p.end > from && p.t < to);
  if (shown.length > 0) {
    const ps = shown.map((p) => p.v);
    const lo = Math.min(...ps);
    const hi = Math.max(...ps, lo + 0.01);
    const py = (v) => rowY(pr) + ROW_H - 6 - ((v - lo) / (hi - lo)) * (ROW_H - 10);
    const d = shown.map((p) => `M${x(p.t).toFixed(1)} ${py(p.v).toFixed(1)} H${x(p.end).toFixed(1)}`).join(' ');
    out.push(`<path class="price" d="${d}"/>`);
    out.push(
      `<text class="tl-text" x="${TW - 8}" y="${rowY(pr) + 10}" text-anchor="end">${lo.toFixed(2)}–${hi.toFixed(2)} ${esc(unit)}</text>`,
    );
  } else {
    out.push(`<text class="tl-text muted" x="${TL + 4}" y="${rowY(pr) + 18}">no tariff or price signal</text>`);
  }
  out.push(`<line class="now" x1="${x(now)}" x2="${x(now)}" y1="2" y2="${H - 16}"/>`);
  out.push(`<text class="tick now-label" x="${x(now) + 3}" y="10">now</text>`);
  svg.innerHTML = out.join('');
}
