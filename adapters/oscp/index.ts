import { randomUUID } from 'node:crypto';
import type { Adapter } from '../../src/model/adapter.js';
import type { TimerHandle } from '../../src/model/clock.js';
import type { OscpConfig } from '../../src/ports/config.js';
import type { GridAdapterDeps } from '../../src/ports/grid.js';
import type { PeerRoutes } from '../../src/ports/http.js';
import { gridMetrics } from '../../src/util/grid-metrics.js';
import { type Forecasts, forecastSignals } from './forecasts.js';
import { createInbound, type InboundState } from './inbound.js';
import { blockToW, type ForecastType, type GroupCapacityForecast } from './messages.js';
import { oscpRoutes } from './routes.js';

export * from './messages.js';

/** `baseUrl`: our endpoints are served there under `path`, and Register announces it unless `publicUrl` is set. */
export interface OscpDeps extends GridAdapterDeps {
  /** Site voltage for forecasts in A. */
  readonly voltageV?: number;
  /** What the site would take without a cap, W; drives AdjustGroupCapacityForecast. */
  readonly demandW?: () => number | undefined;
}

export interface OscpStatus {
  readonly registered: boolean;
  readonly handshakeAcknowledged: boolean;
  readonly cpOfflineAt?: number;
  readonly forecasts: Partial<Record<ForecastType, GroupCapacityForecast>>;
  readonly measurementsSent: number;
  readonly adjustmentsSent: number;
  readonly lastError?: string;
  /** Heartbeat interval the capacity provider asked for, s. */
  readonly heartbeatIntervalS: number;
}

/** `routes()`: our OSCP endpoints (the capacity provider's token), on the gateway's HTTP server. */
export interface OscpAdapter extends Adapter, PeerRoutes {
  /** Base URL of our endpoints as announced in Register (`.../oscp/fp/2.0`). */
  baseUrl(): string;
  /** Send UpdateGroupMeasurements now. */
  sendMeasurements(): Promise<void>;
  sendHeartbeat(): Promise<void>;
  /** Check the site's need against the forecast and ask for more when needed. */
  checkAdjust(): Promise<boolean>;
  status(): OscpStatus;
}

const SOURCE = 'oscp';

/**
 * OSCP 2.0 flexibility provider: registers and hand-shakes with the
 * capacity provider (the DSO), exchanges heartbeats, turns
 * UpdateGroupCapacityForecast into grid signals (CONSUMPTION → import
 * limit, GENERATION → export limit; the FALLBACK_* blocks apply while the
 * capacity provider is offline), sends UpdateGroupMeasurements and asks for
 * more with AdjustGroupCapacityForecast when the site needs it.
 */
export function createOscpAdapter(cfg: OscpConfig, deps: OscpDeps): OscpAdapter {
  const { clock, log, store } = deps;
  const metrics = gridMetrics(deps.metrics);
  const voltageV = deps.voltageV ?? 230;
  if (!cfg.capacityProviderUrl) throw new Error('grid.oscp.capacityProviderUrl is required when OSCP is enabled');
  const cpUrl = cfg.capacityProviderUrl.replace(/\/+$/, '');
  const fpToken = cfg.fpToken ?? randomUUID();
  let registered = false;
  let lastError: string | undefined;
  let measurementsSent = 0;
  let adjustmentsSent = 0;
  let lastMeasureAt: number | undefined;
  const forecasts: Forecasts = {};
  const state: InboundState = {
    acknowledged: false,
    cpOfflineAt: undefined,
    cpHeartbeatS: cfg.heartbeatIntervalS,
    forecasts,
  };
  const timers: TimerHandle[] = [];
  if (cfg.port !== undefined || cfg.host !== undefined) {
    log.warn(
      { port: cfg.port, host: cfg.host },
      `grid.oscp.port/host are deprecated and ignored: the OSCP endpoints are served by the HTTP API under ${cfg.path}`,
    );
  }
  const base = (): string => {
    if (cfg.publicUrl) return cfg.publicUrl.replace(/\/+$/, '');
    const api = deps.baseUrl?.();
    return api ? `${api.replace(/\/+$/, '')}${cfg.path}` : '';
  };
  const offline = (now: number) => state.cpOfflineAt !== undefined && now > state.cpOfflineAt;

  async function post(path: string, body: unknown): Promise<void> {
    if (!cfg.cpToken) throw new Error('grid.oscp.cpToken is not configured');
    const res = await fetch(`${cpUrl}/${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Token ${cfg.cpToken}`,
        'x-request-id': randomUUID(),
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(cfg.requestTimeoutMs),
    });
    await res.body?.cancel();
    if (res.status !== 204 && res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
    // A capacity provider that takes our messages is reachable, unless it promised heartbeats and missed them.
    if (!offline(clock.now())) store.heard(SOURCE, clock.now());
  }

  function offlineCheck(): void {
    const now = clock.now();
    if (state.cpOfflineAt !== undefined && offline(now)) {
      store.unreachable(SOURCE, `capacity provider offline since ${new Date(state.cpOfflineAt).toISOString()}`, now);
      applyForecasts(true);
    }
  }

  function applyForecasts(isOffline: boolean): void {
    const now = clock.now();
    const signals = forecastSignals(forecasts, { offline: isOffline, voltageV, source: SOURCE, now });
    if (isOffline) {
      // Keep the source unreachable in the store while substituting the fallback blocks.
      const h = store.sources(now).find((s) => s.source === SOURCE);
      store.replace(SOURCE, signals, now);
      store.unreachable(SOURCE, h?.lastError ?? 'capacity provider offline', now);
    } else {
      store.replace(SOURCE, signals, now);
    }
  }

  const handle = createInbound({
    groupId: cfg.groupId,
    voltageV,
    source: SOURCE,
    state,
    metrics,
    log,
    now: () => clock.now(),
    heard: () => store.heard(SOURCE, clock.now()),
    applyForecasts,
    acknowledgeHandshake: () =>
      void post('handshake_acknowledgement', {
        required_behaviour: { heartbeat_interval: cfg.heartbeatIntervalS },
      }).catch((err: Error) => log.warn({ err: err.message }, 'OSCP handshake acknowledgement failed')),
  });

  async function registerAndHandshake(): Promise<void> {
    await post('register', { token: fpToken, version_url: [{ version: '2.0', base_url: base() }] });
    registered = true;
    await post('handshake', {
      required_behaviour: { heartbeat_interval: cfg.heartbeatIntervalS, measurement_configuration: ['CONTINUOUS'] },
    });
  }

  async function sendHeartbeat(): Promise<void> {
    const offlineAt = new Date(clock.now() + 2 * cfg.heartbeatIntervalS * 1000).toISOString();
    try {
      await post('heartbeat', { offline_mode_at: offlineAt });
      lastError = undefined;
    } catch (err) {
      lastError = (err as Error).message;
      store.unreachable(SOURCE, lastError, clock.now());
      log.warn({ err: lastError }, 'OSCP heartbeat not delivered');
    }
    offlineCheck();
  }

  async function sendMeasurements(): Promise<void> {
    const now = clock.now();
    const m = deps.measurements();
    if (m.siteW === undefined) return;
    const since = lastMeasureAt ?? now - cfg.measurementIntervalMs;
    lastMeasureAt = now;
    const iso = (t: number) => new Date(t).toISOString();
    const measurements = [
      {
        value: Math.round(m.siteW / 10) / 100,
        phase: 'ALL',
        unit: 'KW',
        direction: 'NET',
        energy_type: 'TOTAL',
        measure_time: iso(now),
        initial_measure_time: iso(since),
        last_measure_time: iso(now),
      },
      ...(m.flexibleW !== undefined
        ? [
            {
              value: Math.round(m.flexibleW / 10) / 100,
              phase: 'ALL',
              unit: 'KW',
              direction: 'IMPORT',
              energy_type: 'FLEXIBLE',
              measure_time: iso(now),
            },
          ]
        : []),
    ];
    try {
      await post('update_group_measurements', { group_id: cfg.groupId, measurements });
      measurementsSent++;
    } catch (err) {
      lastError = (err as Error).message;
      log.warn({ err: lastError }, 'OSCP measurements not delivered');
    }
  }

  async function checkAdjust(): Promise<boolean> {
    const now = clock.now();
    const demand = deps.demandW?.();
    const f = forecasts.CONSUMPTION;
    if (demand === undefined || !f) return false;
    const block = f.forecasted_blocks.find((b) => Date.parse(b.start_time) <= now && now < Date.parse(b.end_time));
    const capW = block ? blockToW(block, voltageV) : undefined;
    if (!block || capW === undefined || demand <= (capW * cfg.adjustAbovePct) / 100) return false;
    try {
      await post('adjust_group_capacity_forecast', {
        group_id: cfg.groupId,
        type: 'CONSUMPTION',
        forecasted_blocks: [
          {
            capacity: Math.ceil(demand / 100) / 10,
            phase: 'ALL',
            unit: 'KW',
            start_time: new Date(now).toISOString(),
            end_time: block.end_time,
          },
        ],
      });
      adjustmentsSent++;
      log.info({ demandW: demand, forecastW: capW }, 'OSCP asked for more capacity');
      return true;
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'OSCP AdjustGroupCapacityForecast not delivered');
      return false;
    }
  }

  return {
    id: 'oscp-fp',
    baseUrl: base,
    routes: (app) =>
      oscpRoutes(app, {
        path: cfg.path,
        token: fpToken,
        handle,
        notJson: () => {
          metrics.rejected.inc({ source: SOURCE, field: '(root)' });
          log.warn('OSCP message rejected: (root): not JSON');
        },
        onError: (err) => log.error({ err: err.message }, 'OSCP handler failed'),
      }),
    sendMeasurements,
    sendHeartbeat,
    checkAdjust,
    status: () => ({
      registered,
      handshakeAcknowledged: state.acknowledged,
      ...(state.cpOfflineAt !== undefined ? { cpOfflineAt: state.cpOfflineAt } : {}),
      forecasts: { ...forecasts },
      measurementsSent,
      adjustmentsSent,
      ...(lastError !== undefined ? { lastError } : {}),
      heartbeatIntervalS: state.cpHeartbeatS,
    }),
    async start() {
      store.monitor(SOURCE);
      // Our endpoints must be reachable before Register announces them (the API server listens first).
      if (!base()) throw new Error('OSCP needs grid.oscp.publicUrl or the HTTP API server to announce its endpoints');
      try {
        await registerAndHandshake();
      } catch (err) {
        lastError = (err as Error).message;
        store.unreachable(SOURCE, lastError);
        log.warn({ err: lastError }, 'OSCP registration failed; retried with the heartbeat');
      }
      timers.push(
        clock.setInterval(() => {
          void (async () => {
            if (!registered) {
              try {
                await registerAndHandshake();
              } catch {
                return;
              }
            }
            await sendHeartbeat();
            await checkAdjust();
          })();
        }, cfg.heartbeatIntervalS * 1000),
        clock.setInterval(() => void sendMeasurements(), cfg.measurementIntervalMs),
      );
    },
    async stop() {
      for (const t of timers.splice(0)) clock.clearInterval(t);
    },
  };
}
