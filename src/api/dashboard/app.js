// gridkeeper dashboard: plain ES module, no build step. It uses only the
// public API (state, alerts, history, live events), like any partner would.
const $ = (sel) => document.querySelector(sel);
const KEY_STORE = 'gridkeeper.apiKey';
let key = new URLSearchParams(location.search).get('key') || localStorage.getItem(KEY_STORE) || '';
let source;
let refreshTimer;
let lastState;
// The live event types to follow, from the server (src/integration/events.ts) via index.html.
const EVENT_TYPES = JSON.parse($('#event-types').textContent);

const kw = (w) => (w === null || w === undefined ? '–' : `${(w / 1000).toFixed(1)} kW`);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function api(path) {
  const res = await fetch(path, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  if (res.status === 401) {
    askForKey();
    throw new Error('unauthorised');
  }
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

function askForKey() {
  $('#key-form').hidden = false;
  setLive('down', 'API key needed');
}

$('#key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  key = $('#key-input').value.trim();
  localStorage.setItem(KEY_STORE, key);
  $('#key-form').hidden = true;
  start();
});

function setLive(cls, text) {
  $('#live-dot').className = `dot ${cls}`;
  $('#live-text').textContent = text;
}

function renderState(s) {
  lastState = s;
  $('#ts').textContent = new Date(s.ts).toLocaleTimeString();
  $('#site-name').textContent = `gridkeeper · ${s.siteId}`;
  const grid = s.grid.powerW;
  $('[data-k=grid]').textContent = kw(grid === null ? null : Math.abs(grid));
  $('[data-k=grid-sub]').textContent = s.grid.stale
    ? 'meter stale'
    : grid === null
      ? ''
      : grid >= 0
        ? 'import'
        : 'export';
  $('[data-k=pv]').textContent = kw(s.pv.powerW);
  $('[data-k=battery]').textContent = kw(s.battery.powerW);
  $('[data-k=battery-sub]').textContent =
    s.battery.socPct === null
      ? ''
      : `${s.battery.socPct.toFixed(0)} % · ${(s.battery.powerW ?? 0) >= 0 ? 'charging' : 'discharging'}`;
  const evTotal = s.evses.reduce((a, e) => a + (e.powerW ?? 0), 0);
  const charging = s.evses.filter((e) => e.status === 'Charging').length;
  $('[data-k=evses]').textContent = kw(evTotal);
  $('[data-k=evses-sub]').textContent = `${charging} of ${s.evses.length} charging`;

  const used = Math.max(0, grid ?? 0);
  const pct = s.site.limitW > 0 ? Math.min(100, (used / s.site.limitW) * 100) : 0;
  $('#limit-fill').style.width = `${pct}%`;
  $('#limit-fill').className = used > s.site.limitW ? 'over' : '';
  $('#limit-text').textContent =
    `import ${kw(used)} of ${kw(s.site.limitW)} site limit${s.site.failsafe ? ' · FAILSAFE' : ''}`;
  const why = s.site.reasons[0];
  const o = s.site.override;
  $('#limit-why').textContent = [
    why ? `limit set by ${why.tier}/${why.policy}: ${why.text}` : '',
    o ? `override ${kw(o.limitW)} until ${new Date(o.until).toLocaleTimeString()} (${o.reason})` : '',
  ]
    .filter(Boolean)
    .join(' · ');

  const box = $('#evses');
  if (s.evses.length === 0) {
    box.innerHTML = '<p class="muted">no chargers yet</p>';
    return;
  }
  box.innerHTML = s.evses
    .map(
      (e) => `<div class="evse" data-evse="${esc(e.id)}">
  <div class="top"><span class="id">${esc(e.id)}</span><span class="badge ${esc(e.status)}">${esc(e.status)}</span></div>
  <div class="nums"><span class="power">${kw(e.powerW)}</span> · set-point ${kw(e.setpointW)}${
    e.currentA === null ? '' : ` (${e.currentA.toFixed(1)} A × ${e.phases})`
  }</div>
  ${
    e.sessionId
      ? `<div class="muted">session ${esc(e.sessionId)}${e.idTag ? ` · ${esc(e.idTag)}` : ''}${
          e.sessionEnergyWh === null ? '' : ` · ${(e.sessionEnergyWh / 1000).toFixed(2)} kWh`
        }</div>`
      : ''
  }
  <div class="reason" title="why the set-point is what it is">why: ${esc(e.reason)}</div>
  ${
    e.reasons.length > 1
      ? `<details><summary>chain of limits (${e.reasons.length})</summary><ol>${e.reasons
          .map((r) => `<li>${esc(r.tier)}/${esc(r.policy)}: ${esc(r.text)}</li>`)
          .join('')}</ol></details>`
      : ''
  }
</div>`,
    )
    .join('');
}

function renderAlerts(alerts) {
  $('#alert-count').textContent = alerts.length ? `(${alerts.length})` : '';
  $('#alerts').innerHTML = alerts.length
    ? alerts
        .map(
          (a) =>
            `<li class="${esc(a.severity)}">${esc(a.message)} <span class="muted">since ${new Date(a.raisedAt).toLocaleTimeString()}</span></li>`,
        )
        .join('')
    : '<li class="muted">none</li>';
}

function renderChart(h) {
  const svg = $('#chart');
  const from = Date.parse(h.from);
  const to = Date.parse(h.to);
  const all = Object.values(h.series).flat();
  const max = Math.max(1000, ...all.map((p) => Math.abs(p[1])));
  const x = (t) => ((t - from) / (to - from)) * 600;
  const y = (v) => 190 - (Math.max(0, v) / max) * 180;
  const line = (pts, cls) =>
    pts.length
      ? `<polyline class="${cls}" fill="none" stroke-width="2" points="${pts.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')}"/>`
      : '';
  svg.innerHTML =
    `<style>.g{stroke:var(--grid)}.p{stroke:var(--pv)}.e{stroke:var(--ev)}</style>` +
    line(h.series['grid.powerW'] || [], 'g') +
    line(h.series['pv.powerW'] || [], 'p') +
    line(h.series['evses.powerW'] || [], 'e') +
    `<text x="4" y="14" fill="#8b98a5" font-size="12">${kw(max)}</text>`;
}

function logEvent(type, data) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${type} ${JSON.stringify(data.data ?? data)}`;
  const list = $('#events');
  list.prepend(li);
  while (list.children.length > 50) list.lastChild.remove();
}

async function refresh() {
  try {
    const [state, alerts] = await Promise.all([api('/api/v1/state'), api('/api/v1/alerts')]);
    renderState(state);
    renderAlerts(alerts);
  } catch (err) {
    if (String(err.message) !== 'unauthorised') setLive('down', 'gateway unreachable');
  }
}

async function refreshHistory() {
  try {
    const step = 30_000;
    renderChart(await api(`/api/v1/history?series=grid.powerW,pv.powerW,evses.powerW&step=${step}`));
  } catch {
    /* the next round tries again */
  }
}

/** Events make the page react at once; coalesce bursts into one refresh. */
function soon() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = undefined;
    refresh();
  }, 200);
}

function connect() {
  source?.close();
  const q = key ? `?access_token=${encodeURIComponent(key)}` : '';
  source = new EventSource(`/api/v1/events${q}`);
  source.onopen = () => setLive('live', 'live');
  source.onerror = () => setLive('down', 'reconnecting…');
  for (const t of EVENT_TYPES) {
    source.addEventListener(t, (ev) => {
      logEvent(t, JSON.parse(ev.data));
      soon();
    });
  }
}

let started = false;
function start() {
  refresh();
  refreshHistory();
  connect();
  if (started) return;
  started = true;
  // Measurements change without events (meter readings): poll the state too.
  setInterval(refresh, 1000);
  setInterval(refreshHistory, 30_000);
}

window.gridkeeper = {
  get state() {
    return lastState;
  },
};
start();
