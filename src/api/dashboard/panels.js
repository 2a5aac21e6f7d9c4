// The list panels: chargers with their reason chains, vehicles against their
// departures, device health, alerts, CMS sync and the grid signals in force.
import { clock, esc, kw, kwh, reasonText, rel, signalName, when } from './fmt.js';

export function renderEvses(box, evses, paused, canControl) {
  if (evses.length === 0) {
    box.innerHTML = '<p class="muted">no chargers yet</p>';
    return;
  }
  box.innerHTML = evses
    .map((e) => {
      const isPaused = paused.has(e.id);
      const session = e.sessionId
        ? `<div class="muted">session ${esc(e.sessionId)}${e.idTag ? ` · ${esc(e.idTag)}` : ''}${
            e.sessionEnergyWh === null ? '' : ` · ${kwh(e.sessionEnergyWh)}`
          }${e.sessionStart ? ` · since ${clock(e.sessionStart)}` : ''}</div>`
        : '<div class="muted">no session</div>';
      const chain = e.reasons.length
        ? `<details><summary>chain of limits (${e.reasons.length})</summary><ol>${e.reasons
            .map((r) => `<li class="tier-${esc(r.tier)}">${esc(reasonText(r))}</li>`)
            .join('')}</ol></details>`
        : '';
      const [chargerId, connectorId] = e.id.split('/');
      return `<div class="evse${isPaused ? ' paused' : ''}" data-evse="${esc(e.id)}">
  <div class="top"><span class="id">${esc(e.id)}${e.bidirectional ? ' <span class="tag">V2G</span>' : ''}</span>
    <span class="badge ${esc(e.status)}">${esc(isPaused ? `${e.status} · paused` : e.status)}</span></div>
  <div class="nums"><span class="power">${kw(e.powerW)}</span> · set-point <span class="sp">${kw(e.setpointW)}</span>${
    e.currentA === null ? '' : ` (${e.currentA.toFixed(1)} A × ${e.phases})`
  }</div>
  ${session}
  <div class="reason" title="why the set-point is what it is">why: ${esc(e.reason)}</div>
  ${chain}
  <div class="actions"><button type="button" class="secondary small" data-action="${isPaused ? 'resume' : 'pause'}"
    data-charger="${esc(chargerId)}" data-connector="${esc(connectorId)}"${canControl ? '' : ' title="sign in for controls"'}>${
      isPaused ? 'Resume' : 'Pause'
    }</button></div>
</div>`;
    })
    .join('');
}

const STATUS_TEXT = {
  'no-needs': 'no departure set',
  'not-plugged-in': 'not plugged in',
  done: 'done',
  'on-track': 'on track',
  'at-risk': 'needs more power',
  infeasible: 'will not make it',
  departed: 'departed',
};

export function renderVehicles(box, plan) {
  if (plan.length === 0) {
    box.innerHTML = '<p class="muted">no vehicles known (add them with PUT /api/v1/vehicles/{id})</p>';
    return;
  }
  box.innerHTML = plan
    .map((v) => {
      const pct =
        v.energyNeededWh && v.deliveredWh !== null ? Math.min(100, (v.deliveredWh / v.energyNeededWh) * 100) : 0;
      return `<div class="vehicle" data-vehicle="${esc(v.vehicleId)}">
  <div class="top"><span class="id">${esc(v.name ?? v.vehicleId)}</span>
    <span class="badge st-${esc(v.status)}">${esc(STATUS_TEXT[v.status] ?? v.status)}</span></div>
  <div class="muted">${v.evseId ? `on ${esc(v.evseId)}` : 'not plugged in'}${
    v.departureAt ? ` · leaves ${when(v.departureAt)} (${rel(v.departureAt)})` : ''
  }</div>
  ${
    v.energyNeededWh === null
      ? ''
      : `<div class="progress" title="delivered vs needed"><div style="width:${pct.toFixed(0)}%"></div></div>
  <div class="nums">${kwh(v.deliveredWh ?? 0)} of ${kwh(v.energyNeededWh)}${
    v.projectedWh === null ? '' : ` · at today's set-point ${kwh(v.projectedWh)} by departure`
  }</div>`
  }
  ${v.reason ? `<div class="reason">${esc(v.reason)}</div>` : ''}
  <details class="needs"><summary>set departure and energy</summary>
    <form class="inline-form needs-form" data-vehicle="${esc(v.vehicleId)}">
      <label>leaves at <input name="departure" type="datetime-local" required></label>
      <label>energy <input name="kwh" type="number" min="0" step="0.5" required inputmode="decimal"> kWh</label>
      <button type="submit">Save</button>
    </form>
  </details>
</div>`;
    })
    .join('');
}

export function renderDevices(list, s) {
  const rows = [];
  for (const d of s.devices) {
    const state = d.online ? 'ok' : 'offline';
    rows.push(
      `<li class="${state}" data-device="${esc(d.id)}"><span class="dot ${d.online ? 'live' : 'down'}"></span><b>${esc(d.id)}</b> <span class="muted">${esc(d.kind)} · ${esc(d.protocol)}</span> ${
        d.online ? 'online' : 'OFFLINE'
      }${d.lastSeen ? ` <span class="muted">· seen ${rel(d.lastSeen)}</span>` : ''}${d.error ? ` <span class="err">${esc(d.error)}</span>` : ''}</li>`,
    );
  }
  for (const e of s.evses) {
    if (['Faulted', 'Offline', 'Unavailable'].includes(e.status)) {
      rows.push(`<li class="offline"><span class="dot down"></span><b>${esc(e.id)}</b> ${esc(e.status)}</li>`);
    }
  }
  for (const k of s.stale) {
    rows.push(`<li class="stale"><span class="dot warn"></span><b>${esc(k)}</b> stale (no fresh reading)</li>`);
  }
  list.innerHTML = rows.length ? rows.join('') : '<li class="muted">no devices reported</li>';
}

export function renderAlerts(list, count, alerts, acks) {
  count.textContent = alerts.length ? `(${alerts.length})` : '';
  const acked = new Map(acks.map((a) => [a.alertId, a]));
  list.innerHTML = alerts.length
    ? alerts
        .map((a) => {
          // Every occurrence of an alert has its own id: an ack of an earlier one never shows here.
          const ack = acked.get(a.id);
          return `<li class="${esc(a.severity)}${ack ? ' acked' : ''}" data-alert="${esc(a.id)}">${esc(a.message)}
  <span class="muted">since ${clock(a.raisedAt)}</span>${
    ack
      ? ` <span class="muted">· acknowledged by ${esc(ack.by)} ${rel(ack.at)}</span>`
      : ` <button type="button" class="secondary small" data-action="ack" data-alert="${esc(a.id)}">Acknowledge</button>`
  }</li>`;
        })
        .join('')
    : '<li class="muted">none</li>';
}

export function renderOutbox(box, o, hooks) {
  const webhooks = renderWebhooks(hooks);
  if (!o) {
    box.innerHTML = `<p class="muted">no OCPP proxy running</p>${webhooks}`;
    return;
  }
  const head = `<p class="${o.pending + o.parked === 0 ? 'ok' : 'warn'}">${
    o.pending === 0 ? 'everything delivered to the CMS' : `${o.pending} message(s) waiting for the CMS`
  }${o.parked ? ` · ${o.parked} refused by the CMS (parked)` : ''}</p>`;
  const rows = o.chargers
    .map(
      (c) => `<tr data-charger="${esc(c.chargerId)}"><td>${esc(c.chargerId)}</td>
  <td><span class="dot ${c.connected ? 'live' : 'down'}"></span>${c.connected ? 'connected' : 'offline'}</td>
  <td><span class="dot ${c.upstreamOnline ? 'live' : 'down'}"></span>${c.upstreamOnline ? 'CMS up' : 'CMS down'}</td>
  <td>${c.pending}${c.oldestPendingAgeS ? ` (oldest ${Math.round(c.oldestPendingAgeS)} s)` : ''}</td><td>${c.parkedCount}</td></tr>`,
    )
    .join('');
  box.innerHTML = `${head}<div class="scroll"><table><thead><tr><th>charger</th><th>link</th><th>CMS</th><th>pending</th><th>parked</th></tr></thead><tbody>${rows}</tbody></table></div>${webhooks}`;
}

/** Webhook outbox per subscription (needs a control key; `null` when not signed in). */
function renderWebhooks(hooks) {
  if (hooks === null || hooks === undefined) return '<p class="muted small">webhook outbox: sign in to see it</p>';
  if (hooks.length === 0) return '<p class="muted small">no webhook subscriptions</p>';
  return `<h3 class="sub-h">Webhooks</h3><ul class="signals">${hooks
    .map(
      (h) =>
        `<li class="${h.stats.dead ? 'warn' : ''}" data-webhook="${esc(h.id)}">${esc(h.url)}: ${h.stats.pending} waiting, ${
          h.stats.delivered
        } delivered${h.stats.dead ? `, ${h.stats.dead} dead` : ''}${h.stats.lastError ? ` · last error ${esc(h.stats.lastError)}` : ''}</li>`,
    )
    .join('')}</ul>`;
}

export function renderSignals(list, grid, override) {
  const items = [];
  if (override) {
    items.push(
      `<li class="override">operator override: import ≤ ${kw(override.limitW)} until ${when(override.until)} (${esc(override.reason)})</li>`,
    );
  }
  if (grid) {
    for (const a of grid.active) {
      items.push(
        `<li class="active">${esc(signalName(a.kind))} ${a.unit === 'W' ? kw(a.value) : `${a.value} ${esc(a.unit)}`} from ${esc(a.source)}${
          a.end ? ` until ${when(a.end)}` : ''
        }</li>`,
      );
    }
    // Upcoming signals: the next three that are not prices; prices are summed up in one line (and drawn above).
    const isPrice = (x) => /price/i.test(x.kind);
    for (const n of grid.next.filter((x) => !isPrice(x)).slice(0, 3)) {
      items.push(
        `<li>next: ${esc(signalName(n.kind))} ${n.unit === 'W' ? kw(n.value) : `${n.value} ${esc(n.unit)}`} from ${esc(n.source)} ${rel(n.start)}</li>`,
      );
    }
    const prices = grid.next.filter(isPrice);
    if (prices.length > 0) {
      const vs = prices.map((p) => p.value);
      const last = prices.reduce((a, p) => (Date.parse(p.end ?? p.start) > Date.parse(a.end ?? a.start) ? p : a));
      items.push(
        `<li>${prices.length} price slots announced by ${esc(prices[0].source)}: ${Math.min(...vs).toFixed(2)}–${Math.max(...vs).toFixed(2)} ${esc(
          prices[0].unit,
        )} until ${when(last.end ?? last.start)}</li>`,
      );
    }
    if (grid.fallback.active)
      items.push(
        `<li class="warn">fallback limit ${kw(grid.fallback.importLimitW)}: ${esc(grid.fallback.why ?? '')}</li>`,
      );
    const price = grid.price;
    if (price && typeof price.importPerKwh === 'number') {
      items.push(`<li>price now ${price.importPerKwh.toFixed(3)} ${esc(price.currency)}/kWh import</li>`);
    }
    for (const s of grid.sources) {
      if (s.monitored && !s.reachable)
        items.push(`<li class="warn">${esc(s.source)} unreachable${s.lastError ? `: ${esc(s.lastError)}` : ''}</li>`);
    }
  }
  list.innerHTML = items.length ? items.join('') : '<li class="muted">no grid signals in force</li>';
}
