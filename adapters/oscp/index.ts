import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import type { OscpConfig } from '../../src/config/sections/grid.js';
import type { VenMeasurements } from '../../src/grid/measurements.js';
import { gridMetrics } from '../../src/grid/metrics.js';
import type { GridSignal, GridSignalStore } from '../../src/grid/signals.js';
import type { Adapter } from '../../src/model/adapter.js';
import type { Clock, TimerHandle } from '../../src/model/clock.js';
import type { Logger } from '../../src/util/logger.js';
import {
  blockToW,
  type ForecastType,
  type GroupCapacityForecast,
  GroupCapacityForecastSchema,
  HandshakeAcknowledgementSchema,
  HandshakeSchema,
  HeartbeatSchema,
  RegisterSchema,
} from './messages.js';

export * from './messages.js';

export interface OscpDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Registry;
  readonly store: GridSignalStore;
  readonly measurements: () => VenMeasurements;
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

export interface OscpAdapter extends Adapter {
  /** Base URL of our endpoints once listening (`.../oscp/fp/2.0`). */
  baseUrl(): string;
  /** Send UpdateGroupMeasurements now. */
  sendMeasurements(): Promise<void>;
  sendHeartbeat(): Promise<void>;
  /** Check the site's need against the forecast and ask for more when needed. */
  checkAdjust(): Promise<boolean>;
  status(): OscpStatus;
}

const SOURCE = 'oscp';
const PREFIX = '/oscp/fp/2.0/';

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
  let server: Server | undefined;
  let base = '';
  let registered = false;
  let acknowledged = false;
  let cpOfflineAt: number | undefined;
  let lastError: string | undefined;
  let measurementsSent = 0;
  let adjustmentsSent = 0;
  let lastMeasureAt: number | undefined;
  const forecasts: Partial<Record<ForecastType, GroupCapacityForecast>> = {};
  const timers: TimerHandle[] = [];
  let cpHeartbeatS = cfg.heartbeatIntervalS;

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
    if (cpOfflineAt === undefined || clock.now() <= cpOfflineAt) store.heard(SOURCE, clock.now());
  }

  function offlineCheck(): void {
    const now = clock.now();
    if (cpOfflineAt !== undefined && now > cpOfflineAt) {
      store.unreachable(SOURCE, `capacity provider offline since ${new Date(cpOfflineAt).toISOString()}`, now);
      applyForecasts(true);
    }
  }

  /** Turn the current forecasts into grid signals; offline, the FALLBACK_* blocks are the ones in force. */
  function applyForecasts(offline: boolean): void {
    const now = clock.now();
    const signals: GridSignal[] = [];
    const pick: Array<[ForecastType, 'importLimit' | 'exportLimit']> = offline
      ? [
          ['FALLBACK_CONSUMPTION', 'importLimit'],
          ['FALLBACK_GENERATION', 'exportLimit'],
        ]
      : [
          ['CONSUMPTION', 'importLimit'],
          ['GENERATION', 'exportLimit'],
        ];
    for (const [type, kind] of pick) {
      const f = forecasts[type];
      if (!f) continue;
      f.forecasted_blocks.forEach((b, i) => {
        const w = blockToW(b, voltageV);
        if (w === undefined) return;
        signals.push({
          kind,
          value: Math.max(0, w),
          source: SOURCE,
          eventId: `${f.group_id}-${type.toLowerCase()}-${i}`,
          eventName: `${type} ${f.group_id}`,
          start: Date.parse(b.start_time),
          end: Date.parse(b.end_time),
          receivedAt: now,
        });
      });
    }
    if (offline) {
      // Keep the source unreachable in the store while substituting the fallback blocks.
      const h = store.sources(now).find((s) => s.source === SOURCE);
      store.replace(SOURCE, signals, now);
      store.unreachable(SOURCE, h?.lastError ?? 'capacity provider offline', now);
    } else {
      store.replace(SOURCE, signals, now);
    }
  }

  function reject(res: ServerResponse, msg: string, issues: z.core.$ZodIssue[]): void {
    const field = issues[0]?.path.map(String).join('.') || '(root)';
    metrics.rejected.inc({ source: SOURCE, field: `${msg}.${field}` });
    log.warn({ message: msg, field, err: issues[0]?.message }, `OSCP ${msg} rejected: ${field}: ${issues[0]?.message}`);
    res
      .writeHead(400, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: `${field}: ${issues[0]?.message}` }));
  }

  function handle(req: IncomingMessage, res: ServerResponse, body: unknown): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'POST' || !url.pathname.startsWith(PREFIX)) {
      res.writeHead(404).end();
      return;
    }
    if (req.headers.authorization !== `Token ${fpToken}`) {
      res.writeHead(401).end();
      return;
    }
    const msg = url.pathname.slice(PREFIX.length);
    const now = clock.now();
    switch (msg) {
      case 'register': {
        // A capacity provider that (re-)registers with us; we already know its URL from config.
        const r = RegisterSchema.safeParse(body);
        if (!r.success) {
          reject(res, msg, r.error.issues);
          return;
        }
        break;
      }
      case 'handshake': {
        const r = HandshakeSchema.safeParse(body);
        if (!r.success) {
          reject(res, msg, r.error.issues);
          return;
        }
        if (r.data.required_behaviour.heartbeat_interval) cpHeartbeatS = r.data.required_behaviour.heartbeat_interval;
        void post('handshake_acknowledgement', {
          required_behaviour: { heartbeat_interval: cfg.heartbeatIntervalS },
        }).catch((err: Error) => log.warn({ err: err.message }, 'OSCP handshake acknowledgement failed'));
        break;
      }
      case 'handshake_acknowledgement': {
        const r = HandshakeAcknowledgementSchema.safeParse(body);
        if (!r.success) {
          reject(res, msg, r.error.issues);
          return;
        }
        acknowledged = true;
        if (r.data.required_behaviour?.heartbeat_interval) cpHeartbeatS = r.data.required_behaviour.heartbeat_interval;
        break;
      }
      case 'heartbeat': {
        const r = HeartbeatSchema.safeParse(body);
        if (!r.success) {
          reject(res, msg, r.error.issues);
          return;
        }
        const wasOffline = cpOfflineAt !== undefined && now > cpOfflineAt;
        cpOfflineAt = Date.parse(r.data.offline_mode_at);
        store.heard(SOURCE, now);
        if (wasOffline) applyForecasts(false);
        break;
      }
      case 'update_group_capacity_forecast': {
        const r = GroupCapacityForecastSchema.safeParse(body);
        if (!r.success) {
          reject(res, msg, r.error.issues);
          return;
        }
        if (r.data.group_id !== cfg.groupId) {
          metrics.rejected.inc({ source: SOURCE, field: `${msg}.group_id` });
          log.warn({ groupId: r.data.group_id }, 'OSCP forecast for an unknown group_id rejected');
          res.writeHead(400).end();
          return;
        }
        const bad = r.data.forecasted_blocks.findIndex(
          (b) => Date.parse(b.end_time) <= Date.parse(b.start_time) || blockToW(b, voltageV) === undefined,
        );
        if (bad >= 0) {
          metrics.rejected.inc({ source: SOURCE, field: `${msg}.forecasted_blocks` });
          log.warn(
            { index: bad },
            `OSCP forecast rejected: forecasted_blocks[${bad}] has no power capacity or no duration`,
          );
          res.writeHead(400).end();
          return;
        }
        forecasts[r.data.type] = r.data;
        for (const _ of r.data.forecasted_blocks) metrics.accepted.inc({ source: SOURCE, kind: r.data.type });
        log.info({ type: r.data.type, blocks: r.data.forecasted_blocks.length }, 'OSCP capacity forecast received');
        applyForecasts(cpOfflineAt !== undefined && now > cpOfflineAt);
        break;
      }
      case 'group_capacity_compliance_error':
        break;
      default: {
        res.writeHead(404).end();
        return;
      }
    }
    res.writeHead(204).end();
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
    baseUrl: () => base,
    sendMeasurements,
    sendHeartbeat,
    checkAdjust,
    status: () => ({
      registered,
      handshakeAcknowledged: acknowledged,
      ...(cpOfflineAt !== undefined ? { cpOfflineAt } : {}),
      forecasts: { ...forecasts },
      measurementsSent,
      adjustmentsSent,
      ...(lastError !== undefined ? { lastError } : {}),
      heartbeatIntervalS: cpHeartbeatS,
    }),
    async start() {
      store.monitor(SOURCE);
      server = createServer((req, res) => {
        let data = '';
        req.setEncoding('utf8');
        req.on('data', (c: string) => {
          data += c;
          if (data.length > 1_000_000) req.destroy();
        });
        req.on('end', () => {
          let body: unknown;
          try {
            body = data ? JSON.parse(data) : {};
          } catch {
            metrics.rejected.inc({ source: SOURCE, field: '(root)' });
            log.warn('OSCP message rejected: (root): not JSON');
            res.writeHead(400).end();
            return;
          }
          try {
            handle(req, res, body);
          } catch (err) {
            log.error({ err: (err as Error).message }, 'OSCP handler failed');
            if (!res.headersSent) res.writeHead(500).end();
          }
        });
      });
      await new Promise<void>((resolve, reject) => {
        server?.once('error', reject);
        server?.listen(cfg.port, cfg.host, () => resolve());
      });
      const port = (server.address() as AddressInfo).port;
      base = cfg.publicUrl ?? `http://${cfg.host === '0.0.0.0' ? '127.0.0.1' : cfg.host}:${port}/oscp/fp/2.0`;
      try {
        await post('register', { token: fpToken, version_url: [{ version: '2.0', base_url: base }] });
        registered = true;
        await post('handshake', {
          required_behaviour: { heartbeat_interval: cfg.heartbeatIntervalS, measurement_configuration: ['CONTINUOUS'] },
        });
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
                await post('register', { token: fpToken, version_url: [{ version: '2.0', base_url: base }] });
                registered = true;
                await post('handshake', { required_behaviour: { heartbeat_interval: cfg.heartbeatIntervalS } });
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
      const s = server;
      server = undefined;
      if (s) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
}
