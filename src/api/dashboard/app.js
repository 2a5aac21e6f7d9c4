// gridkeeper dashboard: plain ES modules, no build step, no CDN. It reads the
// public API like any partner (state, history, grid, fleet, outbox, live events)
// and sends the operator's commands through the same API with the user's key.
import { Api } from './api.js';
import { historySeries, renderHistory, renderTimeline, signalSpans } from './charts.js';
import { EventFeed } from './feed.js';
import { renderFlow } from './flow.js';
import { $, clock, esc, kw } from './fmt.js';
import { renderAlerts, renderDevices, renderEvses, renderOutbox, renderSignals, renderVehicles } from './panels.js';

// The live event types to follow, from the server (src/integration/events.ts) via index.html.
const EVENT_TYPES = JSON.parse($('#event-types').textContent);
const DAY_MS = 86_400_000;

const api = new Api(askForKey);
const feed = new EventFeed($('#events'));
const view = { state: undefined, caps: [], alerts: [], acks: [], grid: null, events: [], prices: { points: [] } };
let source;
let soonTimer;

function askForKey(why) {
  if (why === 'read') {
    // Without a read key the live stream would only retry and fail: wait for the key.
    source?.close();
    source = undefined;
    setLive('down', 'API key needed');
  }
  if (!$('#key-form').hidden) return;
  $('#key-form').hidden = false;
  $('#key-hint').textContent =
    why === 'control'
      ? 'This needs a key with the control scope. It is kept in this browser tab only (sessionStorage).'
      : 'This gateway needs a read key. It is kept in this browser tab only (sessionStorage).';
  $('#key-input').focus();
}

function showSignedIn() {
  $('#sign-in').textContent = api.key ? 'sign out' : 'sign in for controls';
}

$('#sign-in').addEventListener('click', () => {
  if (api.key) {
    api.setKey('');
    showSignedIn();
    start();
  } else askForKey('control');
});
$('#key-cancel').addEventListener('click', () => {
  $('#key-form').hidden = true;
});
$('#key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  api.setKey($('#key-input').value.trim());
  $('#key-input').value = '';
  $('#key-form').hidden = true;
  showSignedIn();
  start();
});

function setLive(cls, text) {
  $('#live-dot').className = `dot ${cls}`;
  $('#live-text').textContent = text;
}

let toastTimer;
function toast(text, bad = false) {
  const t = $('#toast');
  t.textContent = text;
  t.className = `toast${bad ? ' bad' : ''}`;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    t.hidden = true;
  }, 6000);
}

/** Re-render a panel without closing the `<details>` the user opened (or closed) nor a form being typed in. */
const toggled = new Map();
function keepOpen(box, render) {
  if (box.contains(document.activeElement) && document.activeElement.tagName !== 'BUTTON') return;
  render();
  for (const d of box.querySelectorAll('details')) {
    const owner = d.closest('[data-evse],[data-vehicle]');
    const key = `${owner?.dataset.evse ?? owner?.dataset.vehicle}|${d.className}`;
    if (toggled.has(key)) d.open = toggled.get(key);
    d.addEventListener('toggle', () => toggled.set(key, d.open));
  }
}

/** The chargers one can pick for the history chart (kept when the list does not change). */
function fillChargerChoice(evses) {
  const select = $('#chart-evse');
  const ids = evses.map((e) => e.id);
  if (select.dataset.ids === ids.join(',')) return;
  const keep = select.value;
  select.dataset.ids = ids.join(',');
  select.innerHTML = `<option value="">chargers together</option>${ids
    .map((id) => `<option value="${esc(id)}"${id === keep ? ' selected' : ''}>${esc(id)}</option>`)
    .join('')}`;
}
$('#chart-evse').addEventListener('change', () => refreshHistory());

/** The price in force: the configured tariff, else a grid operator's price signal. */
function priceNow(grid) {
  const t = grid?.price;
  if (t && typeof t.importPerKwh === 'number') return `price now ${t.importPerKwh.toFixed(3)} ${t.currency}/kWh`;
  const p = grid?.active.find((a) => /price/i.test(a.kind));
  return p ? `price now ${p.value} ${p.unit} (${p.source})` : '';
}

function render() {
  const s = view.state;
  if (!s) return;
  const paused = new Set(view.caps.filter((c) => c.paused).map((c) => c.evseId));
  $('#ts').textContent = clock(s.ts);
  $('#site-name').textContent = `gridkeeper · ${s.siteId}`;
  renderFlow($('#flow'), s, paused);
  const used = Math.max(0, s.grid.powerW ?? 0);
  const o = s.site.override;
  // The override binds through the chargers' budget, not as a site-scope limit: the lower one is in force.
  const limitW = o ? Math.min(o.limitW, s.site.limitW) : s.site.limitW;
  const pct = limitW > 0 ? Math.min(100, (used / limitW) * 100) : 0;
  $('#limit-fill').style.width = `${pct}%`;
  $('#limit-fill').className = used > limitW ? 'over' : '';
  $('#limit-text').textContent =
    `import ${kw(used)} of ${kw(limitW)} limit in force${o ? ' (override)' : ''} · contract ${kw(s.site.contractLimitW)}${
      s.site.failsafe ? ' · FAILSAFE' : ''
    }${used > limitW ? ' · OVER THE LIMIT' : ''}`;
  const why = s.site.reasons[0];
  $('#limit-why').textContent = [
    why ? `limit set by ${why.tier}/${why.policy}: ${why.text}` : '',
    o ? `override ${kw(o.limitW)} until ${clock(o.until)} (${o.reason})` : '',
    priceNow(view.grid),
  ]
    .filter(Boolean)
    .join(' · ');
  $('#ov-clear').hidden = !o;
  keepOpen($('#evses'), () => renderEvses($('#evses'), s.evses, paused, Boolean(api.key)));
  renderDevices($('#devices'), s);
  fillChargerChoice(s.evses);
  renderAlerts($('#alerts'), $('#alert-count'), view.alerts, view.acks);
  renderSignals($('#signals'), view.grid, o);
  renderTimeline($('#timeline'), {
    now: Date.parse(s.ts),
    spans: signalSpans(view.events, view.grid),
    override: o,
    prices: view.prices,
  });
}

/** A GET whose failure leaves the panel's last good value (and `fallback` for a missing provider). */
async function optional(path, fallback) {
  try {
    return await api.get(path, { quiet: true });
  } catch (err) {
    return err.status === 503 || err.status === 401 || err.status === 403 ? fallback : undefined;
  }
}

async function refresh() {
  try {
    const [state, alerts, caps] = await Promise.all([
      api.get('/api/v1/state'),
      api.get('/api/v1/alerts'),
      optional('/api/v1/operator/caps', []),
    ]);
    view.state = state;
    view.alerts = alerts;
    if (caps) view.caps = caps;
    render();
    window.gridkeeper.rendered++;
    if (!source) connect();
  } catch (err) {
    if (err.status !== 401) setLive('down', 'gateway unreachable');
  }
}

async function refreshSlow() {
  const now = Date.now();
  const [plan, outbox, grid, events, acks, hooks] = await Promise.all([
    optional('/api/v1/fleet/plan'),
    optional('/api/v1/ocpp/outbox?parkedLimit=0', null),
    optional('/api/v1/grid', null),
    optional(`/api/v1/grid/events?from=${now - 6 * 3_600_000}`, []),
    api.key ? optional('/api/v1/alerts/acks', []) : Promise.resolve([]),
    // Webhook subscriptions need the control scope: without it the panel says so.
    api.key ? optional('/api/v1/webhooks', null) : Promise.resolve(null),
  ]);
  if (plan) keepOpen($('#vehicles'), () => renderVehicles($('#vehicles'), plan));
  if (outbox !== undefined) renderOutbox($('#outbox'), outbox, hooks);
  if (grid !== undefined) view.grid = grid;
  if (events) view.events = events;
  if (acks) view.acks = acks;
  render();
}

async function refreshHistory() {
  const to = Date.now();
  const evseId = $('#chart-evse').value;
  const series = historySeries(evseId)
    .map((s) => s.key)
    .join(',');
  const h = await optional(`/api/v1/history?series=${series}&from=${to - DAY_MS}&to=${to}&step=300000`);
  if (h) renderHistory($('#chart'), $('#chart-legend'), h, evseId);
  const p = await optional('/api/v1/grid/prices?step=900000');
  if (p) view.prices = p;
}

/** Events make the page react at once; coalesce bursts into one refresh. */
function soon() {
  if (soonTimer) return;
  soonTimer = setTimeout(() => {
    soonTimer = undefined;
    refresh();
  }, 200);
}

function connect() {
  source?.close();
  const q = api.key ? `?access_token=${encodeURIComponent(api.key)}` : '';
  source = new EventSource(`/api/v1/events${q}`);
  source.onopen = () => setLive('live', 'live');
  source.onerror = () => setLive('down', 'reconnecting…');
  for (const t of EVENT_TYPES) {
    source.addEventListener(t, (ev) => {
      feed.add(t, JSON.parse(ev.data));
      soon();
    });
  }
}

/** Run a command, say what happened in words, refresh what it changed. */
async function command(what, fn) {
  try {
    const text = await fn();
    toast(text ?? `${what}: done`);
    await refresh();
    refreshSlow();
  } catch (err) {
    toast(`${what} failed: ${err.message}`, true);
  }
}

$('#override-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const limitW = Math.round(Number($('#ov-kw').value) * 1000);
  const durationS = Number($('#ov-min').value) * 60;
  const reason = $('#ov-reason').value.trim() || 'operator override (dashboard)';
  command('Site limit', async () => {
    const o = await api.send('PUT', '/api/v1/site/limit-override', { limitW, durationS, reason });
    return `Site limit ${kw(o.limitW)} until ${clock(o.until)}`;
  });
});
$('#ov-clear').addEventListener('click', () =>
  command('End override', async () => {
    await api.send('DELETE', '/api/v1/site/limit-override');
    return 'Override ended';
  }),
);
$('#evses').addEventListener('click', (e) => {
  const b = e.target.closest('button[data-action]');
  if (!b) return;
  const path = `/api/v1/evses/${encodeURIComponent(b.dataset.charger)}/${b.dataset.connector}/pause`;
  const id = `${b.dataset.charger}/${b.dataset.connector}`;
  const pause = b.dataset.action === 'pause';
  command(`${pause ? 'Pause' : 'Resume'} ${id}`, async () => {
    await api.send(pause ? 'PUT' : 'DELETE', path);
    return `${id} ${pause ? 'paused' : 'resumed'}`;
  });
});
$('#alerts').addEventListener('click', (e) => {
  const b = e.target.closest('button[data-action=ack]');
  if (!b) return;
  command('Acknowledge', async () => {
    await api.send('POST', `/api/v1/alerts/${encodeURIComponent(b.dataset.alert)}/ack`, {});
    return 'Alert acknowledged';
  });
});
$('#vehicles').addEventListener('submit', (e) => {
  const f = e.target.closest('form.needs-form');
  if (!f) return;
  e.preventDefault();
  const id = f.dataset.vehicle;
  const departureAt = new Date(f.elements.departure.value).toISOString();
  const energyNeededWh = Math.round(Number(f.elements.kwh.value) * 1000);
  command(`Vehicle ${id}`, async () => {
    await api.send('PUT', `/api/v1/vehicles/${encodeURIComponent(id)}/needs`, { departureAt, energyNeededWh });
    f.closest('details').open = false;
    return `${id}: leaves ${clock(departureAt)}, needs ${(energyNeededWh / 1000).toFixed(1)} kWh`;
  });
});

let started = false;
function start() {
  source?.close();
  source = undefined;
  // The live stream starts once a read succeeded (with the key, when one is needed).
  refresh();
  refreshSlow();
  refreshHistory();
  if (started) return;
  started = true;
  // Measurements change without events (meter readings): poll the state too.
  setInterval(refresh, 1000);
  setInterval(refreshSlow, 5000);
  setInterval(refreshHistory, 30_000);
}

window.gridkeeper = {
  rendered: 0,
  get state() {
    return view.state;
  },
};
showSignedIn();
start();
