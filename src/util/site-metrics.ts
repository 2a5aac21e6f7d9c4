import { Gauge, type Registry } from 'prom-client';
import type { Reason, Setpoint } from '../model/decision.js';
import type { GridSignal } from '../model/grid.js';
import type { SiteSnapshot } from '../model/site.js';
import type { OcppOutboxCharger } from '../ports/ocpp.js';

/** A merged limit as the control loop's last round reports it (structural, so util needs no control import). */
export interface SiteMetricsLimit {
  readonly scope: string;
  readonly maxImportW?: number;
  readonly maxExportW?: number;
  readonly maxCurrentA?: number;
  readonly reasons: readonly Reason[];
}

/** Where the site metrics read their values, at scrape time. */
export interface SiteMetricsSource {
  snapshot(): SiteSnapshot;
  /** The set-point the dispatcher holds for an EVSE. */
  setpoint(evseId: string): Setpoint | undefined;
  /** The merged limits of the last control round. */
  limits(): readonly SiteMetricsLimit[];
  /** Per-charger OCPP link state (charger connected, CMS connected); absent without the proxy. */
  ocppChargers?(): readonly OcppOutboxCharger[];
  /** Grid signals in force now, from every source (OpenADR, OSCP, HTTP, MQTT). */
  gridSignals?(): readonly GridSignal[];
}

/** Names of the site metrics, for the Grafana dashboard test and the docs. */
export const SITE_METRIC_NAMES = [
  'gridkeeper_grid_power_watts',
  'gridkeeper_grid_current_amperes',
  'gridkeeper_pv_power_watts',
  'gridkeeper_battery_power_watts',
  'gridkeeper_battery_soc_percent',
  'gridkeeper_evse_power_watts',
  'gridkeeper_evse_current_amperes',
  'gridkeeper_evse_setpoint_amperes',
  'gridkeeper_evse_setpoint_watts',
  'gridkeeper_evse_status',
  'gridkeeper_limit_watts',
  'gridkeeper_limit_amperes',
  'gridkeeper_device_up',
  'gridkeeper_ocpp_charger_connected',
  'gridkeeper_ocpp_cms_connected',
  'gridkeeper_grid_signal_watts',
] as const;

const PHASES = ['L1', 'L2', 'L3'] as const;

/**
 * The site's process image as Prometheus gauges: every value is read from
 * the snapshot when Prometheus scrapes, so nothing is copied on the hot path
 * and a scrape never shows a value older than the process image. Values are
 * exported only while their reading is good: a stale meter disappears from
 * the series instead of flat-lining at its last value (`gridkeeper_device_up`
 * says why). Every series carries `site`, so several gateways can share one
 * Prometheus.
 */
export function registerSiteMetrics(registry: Registry, src: SiteMetricsSource): void {
  // One snapshot serves all gauges of a scrape (they collect in the same tick).
  let tick: SiteSnapshot | undefined;
  const snap = (): SiteSnapshot => {
    if (!tick) {
      tick = src.snapshot();
      queueMicrotask(() => {
        tick = undefined;
      });
    }
    return tick;
  };
  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (g: Gauge<L | 'site'>, s: SiteSnapshot) => void,
  ) =>
    new Gauge<L | 'site'>({
      name,
      help,
      labelNames: ['site', ...labelNames],
      registers: [registry],
      collect() {
        this.reset();
        fill(this, snap());
      },
    });
  const good = <T>(r: { value: T; quality: string } | undefined): T | undefined =>
    r && r.quality === 'good' ? r.value : undefined;
  const round1 = (x: number) => Math.round(x * 10) / 10;

  gauge('gridkeeper_grid_power_watts', 'Grid power at the meter, W (+ import, - export)', [], (g, s) => {
    const v = good(s.grid.powerW);
    if (v !== undefined) g.set({ site: s.siteId }, Math.round(v));
  });
  gauge('gridkeeper_grid_current_amperes', 'Grid current per site phase, A', ['phase'], (g, s) => {
    const v = good(s.grid.currentsA);
    if (!v) return;
    PHASES.forEach((phase, i) => {
      g.set({ site: s.siteId, phase }, round1(v[i] ?? 0));
    });
  });
  gauge('gridkeeper_pv_power_watts', 'PV production, W (>= 0)', [], (g, s) => {
    const v = good(s.pv.powerW);
    if (v !== undefined) g.set({ site: s.siteId }, Math.round(v));
  });
  gauge('gridkeeper_battery_power_watts', 'Stationary battery power, W (+ charging, - discharging)', [], (g, s) => {
    const v = good(s.battery.powerW);
    if (v !== undefined) g.set({ site: s.siteId }, Math.round(v));
  });
  gauge('gridkeeper_battery_soc_percent', 'Stationary battery state of charge, %', [], (g, s) => {
    const v = good(s.battery.socPct);
    if (v !== undefined) g.set({ site: s.siteId }, round1(v));
  });

  /** A gauge with one series per EVSE (labels `evse`, `charger` and `extra`); `fill` sets an EVSE's values. */
  const evseGauge = <L extends string>(
    name: string,
    help: string,
    extra: readonly L[],
    fill: (e: SiteSnapshot['evses'][number], set: (labels: Partial<Record<L, string>>, v: number) => void) => void,
  ) =>
    gauge(name, help, ['evse', 'charger', ...extra], (g, s) => {
      for (const e of s.evses) {
        // The EVSE's own labels first, then `extra`: the order prometheus prints them in.
        const own = { site: s.siteId, evse: e.id, charger: e.chargerId };
        fill(e, (labels, v) => g.set({ ...own, ...labels } as Partial<Record<L | keyof typeof own, string>>, v));
      }
    });
  evseGauge('gridkeeper_evse_power_watts', 'Measured power per EVSE, W (+ charging, - V2G)', [], (e, set) => {
    const v = good(e.powerW);
    if (v !== undefined) set({}, Math.round(v));
  });
  evseGauge(
    'gridkeeper_evse_current_amperes',
    'Measured current per EVSE and charger phase, A',
    ['phase'],
    (e, set) => {
      const v = good(e.currentsA);
      if (v) for (const [i, phase] of PHASES.entries()) set({ phase }, round1(v[i] ?? 0));
    },
  );
  evseGauge(
    'gridkeeper_evse_setpoint_amperes',
    'Current limit the gateway holds for an EVSE, A per phase (0 = paused); `source` is the binding policy',
    ['source'],
    (e, set) => {
      const sp = src.setpoint(e.id);
      if (sp) set({ source: bindingSource(sp.reasons) }, round1(sp.currentA));
    },
  );
  evseGauge(
    'gridkeeper_evse_setpoint_watts',
    'Power equivalent of the set-point the gateway holds for an EVSE, W',
    [],
    (e, set) => {
      const sp = src.setpoint(e.id);
      if (sp) set({}, Math.round(sp.powerW));
    },
  );
  evseGauge(
    'gridkeeper_evse_status',
    'Connector status per EVSE: 1 for the current status (OCPP-style names), absent otherwise',
    ['status'],
    (e, set) => set({ status: e.status }, 1),
  );

  const limitLabels = ['scope', 'direction', 'source', 'tier'] as const;
  gauge(
    'gridkeeper_limit_watts',
    'Active power limit per scope (site, node:<id>) and direction, with the policy that binds it',
    limitLabels,
    (g, s) => {
      for (const l of src.limits()) {
        const [first] = l.reasons;
        const base = { site: s.siteId, scope: l.scope, source: first?.policy ?? 'none', tier: first?.tier ?? 'none' };
        if (l.maxImportW !== undefined) g.set({ ...base, direction: 'import' }, Math.round(l.maxImportW));
        if (l.maxExportW !== undefined) g.set({ ...base, direction: 'export' }, Math.round(l.maxExportW));
      }
    },
  );
  gauge(
    'gridkeeper_limit_amperes',
    'Active current limit per scope (node:<id>, evse:<id>), with the policy that binds it',
    ['scope', 'source', 'tier'],
    (g, s) => {
      for (const l of src.limits()) {
        const [first] = l.reasons;
        if (l.maxCurrentA === undefined) continue;
        g.set(
          { site: s.siteId, scope: l.scope, source: first?.policy ?? 'none', tier: first?.tier ?? 'none' },
          round1(l.maxCurrentA),
        );
      }
    },
  );
  gauge(
    'gridkeeper_device_up',
    '1 while a field device answers, 0 while it is offline',
    ['device', 'protocol', 'kind'],
    (g, s) => {
      for (const d of s.devices)
        g.set({ site: s.siteId, device: d.id, protocol: d.protocol, kind: d.kind }, d.online ? 1 : 0);
    },
  );

  const signals = src.gridSignals;
  if (signals) {
    gauge(
      'gridkeeper_grid_signal_watts',
      'Grid signals in force now by source and kind (importLimit, exportLimit, setpoint), W',
      ['source', 'kind', 'event'],
      (g, s) => {
        for (const sig of signals()) {
          if (sig.kind !== 'importLimit' && sig.kind !== 'exportLimit' && sig.kind !== 'setpoint') continue;
          g.set({ site: s.siteId, source: sig.source, kind: sig.kind, event: sig.eventId }, Math.round(sig.value));
        }
      },
    );
  }

  const chargers = src.ocppChargers;
  if (chargers) {
    const perCharger = (name: string, help: string, value: (c: OcppOutboxCharger) => boolean) =>
      gauge(name, help, ['charger'], (g, s) => {
        for (const c of chargers()) g.set({ site: s.siteId, charger: c.chargerId }, value(c) ? 1 : 0);
      });
    perCharger(
      'gridkeeper_ocpp_charger_connected',
      '1 while the charger is connected to the OCPP proxy',
      (c) => c.connected,
    );
    perCharger(
      'gridkeeper_ocpp_cms_connected',
      "1 while the charger's upstream link to the CMS is up",
      (c) => c.upstreamOnline,
    );
  }
}

function bindingSource(reasons: readonly Reason[]): string {
  return reasons[0]?.policy ?? 'none';
}
