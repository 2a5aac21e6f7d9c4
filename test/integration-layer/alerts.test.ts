import { describe, expect, it } from 'vitest';
import { createGatewayBus } from '../../src/bus/events.js';
import { AlertService } from '../../src/integration/alerts.js';
import { EventHub, type HubEvent } from '../../src/integration/events.js';
import { INTEGRATION_MIGRATIONS } from '../../src/integration/migrations.js';
import { VirtualClock } from '../../src/model/clock.js';
import { openDatabase } from '../../src/store/db.js';

function setup() {
  const clock = new VirtualClock();
  const db = openDatabase({ path: ':memory:', migrations: INTEGRATION_MIGRATIONS });
  const bus = createGatewayBus();
  const hub = new EventHub({ clock, db, retain: 1000 });
  const events: HubEvent[] = [];
  hub.subscribe((e) => events.push(e));
  const alerts = new AlertService({ db, clock, hub, bus, checkIntervalMs: 1000 });
  alerts.start();
  return { clock, db, bus, hub, alerts, events };
}

describe('maintenance alerts', () => {
  it('raises once and clears once: device offline, stale meter, charger error codes, firmware', () => {
    const { bus, alerts, events, db } = setup();
    try {
      bus.emit('device', { id: 'meter', protocol: 'modbus', kind: 'meter', online: false, error: 'timeout' });
      bus.emit('device', { id: 'meter', protocol: 'modbus', kind: 'meter', online: false, error: 'timeout' });
      bus.emit('failsafe', { active: true, reason: 'grid meter stale', ts: 0 });
      alerts.reportChargerError('CP01', 1, 'GroundFailure', 'RCD tripped');
      alerts.reportFirmwareStatus('CP02', 'InstallationFailed');
      expect(
        alerts
          .list({ active: true })
          .map((a) => a.kind)
          .sort(),
      ).toEqual(['charger.error', 'device.offline', 'firmware.failed', 'meter.stale']);
      expect(events.filter((e) => e.type === 'alert.raised')).toHaveLength(4);

      bus.emit('device', { id: 'meter', protocol: 'modbus', kind: 'meter', online: true });
      bus.emit('failsafe', { active: false, reason: 'fresh', ts: 0 });
      alerts.reportChargerError('CP01', 1, 'NoError');
      alerts.reportFirmwareStatus('CP02', 'Installed');
      expect(alerts.list({ active: true })).toEqual([]);
      expect(events.filter((e) => e.type === 'alert.cleared')).toHaveLength(4);
      expect(alerts.firmwareStatus()).toEqual([expect.objectContaining({ chargerId: 'CP02', status: 'Installed' })]);
      expect(alerts.list({ active: false })).toHaveLength(4);
    } finally {
      alerts.stop();
      db.close();
    }
  });

  it('webhook backlog and dead letters raise alerts from the periodic check', () => {
    const { clock, alerts, db } = setup();
    try {
      let backlog = 5;
      const dead = new Map([['wh_1', 0]]);
      alerts.setChecks({ backlog: () => backlog, backlogThreshold: 10, deadLetters: () => dead });
      clock.advance(1000);
      expect(alerts.list({ active: true })).toEqual([]);
      backlog = 50;
      dead.set('wh_1', 2);
      clock.advance(1000);
      expect(
        alerts
          .list({ active: true })
          .map((a) => `${a.kind}:${a.subject}`)
          .sort(),
      ).toEqual(['webhook.backlog:outbox', 'webhook.dead-letter:wh_1']);
      backlog = 0;
      dead.set('wh_1', 0);
      clock.advance(1000);
      expect(alerts.list({ active: true })).toEqual([]);
    } finally {
      alerts.stop();
      db.close();
    }
  });

  it('active alerts survive a restart', () => {
    const { bus, alerts, db, clock, hub } = setup();
    bus.emit('device', { id: 'pv', protocol: 'modbus', kind: 'pv', online: false });
    const [raised] = alerts.list({ active: true });
    alerts.stop();
    const again = new AlertService({ db, clock, hub, bus: createGatewayBus(), checkIntervalMs: 1000 });
    expect(again.list({ active: true })).toEqual([raised]);
    again.clear('device.offline', 'pv');
    expect(again.list({ active: false })).toEqual([{ ...raised, clearedAt: clock.now() }]);
    db.close();
  });

  it('gives every occurrence its own id, also within the same millisecond', () => {
    const { bus, alerts, db } = setup();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        bus.emit('device', { id: 'pv', protocol: 'modbus', kind: 'pv', online: false });
        ids.push(alerts.list({ active: true })[0]?.id ?? '');
        bus.emit('device', { id: 'pv', protocol: 'modbus', kind: 'pv', online: true });
      }
      expect(new Set(ids).size).toBe(3);
      for (const id of ids) expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(new Set(alerts.list().map((a) => a.id))).toEqual(new Set(ids));
      expect(alerts.list().every((a) => a.clearedAt !== undefined)).toBe(true);
    } finally {
      alerts.stop();
      db.close();
    }
  });

  it('clears an alert stored before ids were unique', () => {
    const { alerts, db, clock, hub } = setup();
    alerts.stop();
    const legacy = {
      id: 'device.offline:pv',
      kind: 'device.offline',
      subject: 'pv',
      severity: 'warning',
      message: 'x',
      raisedAt: 5,
    };
    db.prepare(
      'INSERT INTO alerts (id, kind, subject, severity, message, raised_at, json) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ).run('device.offline:pv@5', 'device.offline', 'pv', 'warning', 'x', 5, JSON.stringify(legacy));
    const again = new AlertService({ db, clock, hub, bus: createGatewayBus(), checkIntervalMs: 1000 });
    expect(again.clear('device.offline', 'pv')).toBe(true);
    expect(again.list()).toEqual([{ ...legacy, clearedAt: clock.now() }]);
    db.close();
  });
});
