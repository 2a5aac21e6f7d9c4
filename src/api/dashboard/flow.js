// The live power-flow picture: sources and loads around the site's connection point,
// each line animated in the direction the power flows and labelled in kW.
import { esc, kw } from './fmt.js';

const ROW = 56;
const LEFT_X = 70;
const HUB_X = 215;
const RIGHT_X = 350;
/** Below this a flow is drawn as idle (no direction). */
const IDLE_W = 50;

/**
 * The building is not metered on its own in the state: it is what the grid
 * and the sources deliver that the battery and the chargers do not take.
 */
export function buildingW(s) {
  if (s.grid.powerW === null) return null;
  const ev = s.evses.reduce((a, e) => a + (e.powerW ?? 0), 0);
  return s.grid.powerW + (s.pv.powerW ?? 0) - (s.battery.powerW ?? 0) - ev;
}

/** One node and its line to the hub. `towardHub` says which way the power flows. */
function branch({ id, x, y, label, value, sub, towardHub, color, cls = '', title }) {
  const idle = value === null || Math.abs(value) < IDLE_W;
  const dir = idle ? 'idle' : towardHub ? 'in' : 'out';
  const [x1, x2] = x < HUB_X ? [x + 48, HUB_X - 14] : [HUB_X + 14, x - 48];
  // The dashes run from the source to the sink.
  const fromLeft = x < HUB_X ? towardHub : !towardHub;
  return `<g class="branch ${dir} ${cls}" data-node="${esc(id)}">
  <path class="wire" d="M${x1} ${y} L${x2} ${y}" stroke="${color}"/>
  <path class="pulse ${fromLeft ? 'ltr' : 'rtl'}" d="M${x1} ${y} L${x2} ${y}" stroke="${color}"/>
  <rect x="${x - 48}" y="${y - 22}" width="96" height="44" rx="8" class="node" style="stroke:${cls ? 'var(--bad)' : color}"/>
  <title>${esc(title ?? `${label}: ${kw(value)}`)}</title>
  <text x="${x}" y="${y - 6}" class="n-label">${esc(label)}</text>
  <text x="${x}" y="${y + 10}" class="n-value" data-k="${esc(id)}">${esc(kw(value === null ? null : Math.abs(value)))}</text>
  <text x="${(x1 + x2) / 2}" y="${y - 6}" class="n-sub">${esc(sub)}</text>
</g>`;
}

export function renderFlow(svg, s, paused = new Set()) {
  const left = [
    {
      id: 'grid',
      label: s.grid.stale ? 'Grid (stale)' : 'Grid',
      value: s.grid.powerW,
      sub: s.grid.powerW === null ? '' : s.grid.powerW >= 0 ? 'import' : 'export',
      towardHub: (s.grid.powerW ?? 0) >= 0,
      color: 'var(--grid)',
      cls: s.grid.stale ? 'stale' : '',
    },
    { id: 'pv', label: 'Solar', value: s.pv.powerW, sub: 'production', towardHub: true, color: 'var(--pv)' },
    {
      id: 'battery',
      label: s.battery.socPct === null ? 'Battery' : `Battery ${s.battery.socPct.toFixed(0)} %`,
      value: s.battery.powerW,
      sub: s.battery.powerW === null ? '' : s.battery.powerW >= 0 ? 'charging' : 'discharging',
      towardHub: (s.battery.powerW ?? 0) < 0,
      color: 'var(--bat)',
    },
  ];
  const b = buildingW(s);
  left.push({
    id: 'building',
    label: 'Building',
    value: b,
    sub: 'load',
    towardHub: (b ?? 0) < 0,
    color: 'var(--muted)',
    title: `Building: ${kw(b)} (grid + solar − battery − chargers)`,
  });
  const right = s.evses.map((e) => ({
    id: `evse:${e.id}`,
    label: `${e.id}${e.bidirectional ? ' V2G' : ''}`,
    value: e.powerW,
    sub: paused.has(e.id) ? 'paused' : (e.powerW ?? 0) < -IDLE_W ? 'to site' : e.status,
    towardHub: (e.powerW ?? 0) < 0,
    color: 'var(--ev)',
    cls: e.status === 'Faulted' || e.status === 'Unavailable' ? 'fault' : '',
  }));
  const rows = Math.max(left.length, right.length, 1);
  const h = rows * ROW + 16;
  svg.setAttribute('viewBox', `0 0 420 ${h}`);
  const yOf = (i, n) => 8 + ((i + 0.5) * (rows * ROW)) / n;
  const hubY = h / 2;
  const parts = [
    ...left.map((n, i) => branch({ ...n, x: LEFT_X, y: yOf(i, left.length) })),
    ...right.map((n, i) => branch({ ...n, x: RIGHT_X, y: yOf(i, right.length) })),
  ];
  // Vertical bus bars join the rows to the hub.
  const bus = (x, n) => (n > 1 ? `<path class="bus" d="M${x} ${yOf(0, n)} L${x} ${yOf(n - 1, n)}"/>` : '');
  svg.innerHTML = `${bus(HUB_X - 14, left.length)}${bus(HUB_X + 14, right.length)}
<path class="bus" d="M${HUB_X - 14} ${hubY} L${HUB_X + 14} ${hubY}"/>
<circle cx="${HUB_X}" cy="${hubY}" r="9" class="hub"/>
${parts.join('')}
${right.length === 0 ? `<text x="${RIGHT_X}" y="${hubY}" class="n-sub">no chargers</text>` : ''}`;
}
