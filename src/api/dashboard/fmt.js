// Formatting shared by the dashboard modules: power, energy, time, HTML escaping.
export const $ = (sel) => document.querySelector(sel);

export const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Watts as kW with one decimal; null/undefined as a dash. */
export const kw = (w) => (w === null || w === undefined || Number.isNaN(w) ? '–' : `${(w / 1000).toFixed(1)} kW`);

export const kwh = (wh) => (wh === null || wh === undefined ? '–' : `${(wh / 1000).toFixed(1)} kWh`);

export const hhmm = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });

export const clock = (t) => new Date(t).toLocaleTimeString([], { hour12: false });

/** "3 min ago", "in 2 h 5 min". */
export function rel(t, now = Date.now()) {
  const s = Math.round((Date.parse(t) - now) / 1000);
  const a = Math.abs(s);
  // The page's clock and the gateway's differ by a little: a few seconds either way is now.
  if (a < 3) return 'just now';
  const min = Math.round(a / 60);
  const text =
    a < 60 ? `${a} s` : min < 60 ? `${min} min` : `${Math.floor(min / 60)} h${min % 60 ? ` ${min % 60} min` : ''}`;
  return s >= 0 ? `in ${text}` : `${text} ago`;
}

/** "safety/failsafe: text" for one reason of a chain. */
export const reasonText = (r) => `${r.tier}/${r.policy}: ${r.text}`;

/** A moment as HH:MM, with the weekday when it is not today. */
export function when(t, now = Date.now()) {
  const d = new Date(t);
  const sameDay = d.toDateString() === new Date(now).toDateString();
  return `${sameDay ? '' : `${d.toLocaleDateString([], { weekday: 'short' })} `}${hhmm(d)}`;
}

/** Grid signal kinds as words: IMPORT_CAPACITY_LIMIT → import limit. */
export const signalName = (kind) =>
  ({ IMPORT_CAPACITY_LIMIT: 'import limit', EXPORT_CAPACITY_LIMIT: 'export limit', DISPATCH_SETPOINT: 'dispatch' })[
    kind
  ] ?? String(kind).toLowerCase().replace(/_/g, ' ');
