// The event feed in words an operator reads, not raw JSON.
import { clock, esc, kw, kwh, signalName } from './fmt.js';

const d = (ev) => ev.data ?? {};

const DESCRIBE = {
  'session.started': (x) =>
    `Charging session started on ${x.evseId ?? '?'}${x.idTag ? ` for ${x.idTag}` : ''}${x.vehicleId ? ` (${x.vehicleId})` : ''}`,
  'session.updated': (x) =>
    `Session on ${x.evseId ?? '?'}: ${x.energyWh === undefined ? 'updated' : `${kwh(x.energyWh)} so far`}`,
  'session.stopped': (x) =>
    `Session on ${x.evseId ?? '?'} ended${x.energyWh === undefined ? '' : ` after ${kwh(x.energyWh)}`}${x.stopReason ? ` (${x.stopReason})` : ''}`,
  'evse.status': (x) => `${x.evseId ?? x.id ?? 'EVSE'} is now ${x.status ?? '?'}`,
  // The binding policy is enough in a feed; the chain is on the charger's card.
  'setpoint.changed': (x) =>
    `${x.evseId ?? '?'} set to ${x.powerW === undefined ? `${x.currentA ?? '?'} A` : kw(x.powerW)}${
      x.reason ? ` (${String(x.reason).split(':')[0]})` : ''
    }`,
  'device.online': (x) => `${x.kind ?? 'device'} ${x.id ?? x.deviceId ?? ''} is back online`,
  'device.offline': (x) =>
    `${x.kind ?? 'device'} ${x.id ?? x.deviceId ?? ''} went offline${x.error ? `: ${x.error}` : ''}`,
  'alert.raised': (x) => `Alert: ${x.message ?? x.kind ?? ''}`,
  'alert.cleared': (x) => `Cleared: ${x.message ?? x.kind ?? ''}`,
  'grid.event': (x) =>
    `Grid signal: ${signalName(x.kind ?? '')} ${x.unit === 'W' && typeof x.value === 'number' ? kw(x.value) : (x.value ?? '')} from ${x.source ?? '?'} (${x.status ?? ''})`,
  'site.failsafe': (x) =>
    x.active ? `FAILSAFE: ${x.reason ?? 'grid meter stale'}` : 'Grid meter back: failsafe ended',
  'site.override': (x) =>
    x.active === false || x.limitW === undefined || x.limitW === null
      ? 'Site limit override ended'
      : `Site limit override ${kw(x.limitW)}${x.until ? ` until ${clock(x.until)}` : ''}`,
};

const KIND = (type) => (type.startsWith('alert') || type === 'site.failsafe' ? 'alert' : type.split('.')[0]);

export class EventFeed {
  constructor(list, max = 60) {
    this.list = list;
    this.max = max;
    this.last = new Map();
  }

  add(type, ev) {
    // Announced price slots come by the dozen; the timeline shows them, the feed only the one in force.
    if (type === 'grid.event' && /price/i.test(d(ev).kind ?? '') && d(ev).status !== 'active') return;
    const describe = DESCRIBE[type];
    const text = describe ? describe(d(ev)) : `${type}`;
    // The same sentence again within a few seconds adds nothing for a reader.
    const now = Date.now();
    if (this.last.get(text) > now - 10_000) return;
    this.last.set(text, now);
    if (this.last.size > 500) this.last.clear();
    const li = document.createElement('li');
    li.className = `ev-${KIND(type)}`;
    li.innerHTML = `<time>${esc(clock(ev.timestamp ?? now))}</time> ${esc(text)}`;
    this.list.prepend(li);
    while (this.list.children.length > this.max) this.list.lastChild.remove();
  }
}
