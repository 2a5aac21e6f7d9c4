import { existsSync, readFileSync } from 'node:fs';
import { type IncomingMessage, type Server, createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { RPCServer } from 'ocpp-rpc';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { GatewayBus } from '../../src/bus/events.js';
import type { OcppConfig } from '../../src/config/sections/ocpp.js';
import { ChargerSchema, type ChargerConfig, type SiteConfig } from '../../src/config/sections/site.js';
import type { Adapter, SetpointSink } from '../../src/model/adapter.js';
import type { Clock, TimerHandle } from '../../src/model/clock.js';
import type { Setpoint } from '../../src/model/decision.js';
import type { Db } from '../../src/store/db.js';
import type { SessionStore } from '../../src/store/session-store.js';
import type { Logger } from '../../src/util/logger.js';
import { ChargerLink, type LinkStats } from './link.js';
import { OcppOutbox, type OutboxRow } from './outbox.js';
import type { AuthoriseHook } from './auth.js';
import { OCPP_PROTOCOLS, isOcppProtocol } from './rpc/protocol.js';
import { strictValidators } from './rpc/validators.js';

export interface OcppProxyConfig {
  readonly ocpp: OcppConfig;
  readonly chargers: readonly ChargerConfig[];
  readonly site: SiteConfig;
}

export interface OcppProxyDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: GatewayBus;
  readonly dispatcher: {
    registerSink(key: string, sink: SetpointSink): () => void;
    invalidate(prefix: string): void;
  };
  readonly sessions: SessionStore;
  readonly db: Db;
  readonly metrics?: Registry;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** OCPP 2.1 NotifyEVChargingNeeds (departure, energy, V2X) for the fleet / policies. */
  readonly onEvChargingNeeds?: (chargerId: string, evseId: string, payload: Record<string, unknown>) => void;
  /**
   * External authoriser (payment app, fleet tool), asked whenever a charger
   * presents an idTag / idToken (1.6 Authorize, StartTransaction; 2.x
   * Authorize, TransactionEvent with an idToken). See `auth.ts` for which
   * answer wins; undefined, an error or no answer within
   * `authoriseTimeoutMs` leaves the decision to the CMS or, offline, to the
   * local list, the cache and `unknownIdTags`.
   */
  readonly authorise?: AuthoriseHook;
  /** Longest wait for `authorise`, ms (default 2000; keep it below the chargers' call timeout). */
  readonly authoriseTimeoutMs?: number;
  /**
   * Every StatusNotification: 1.6 with its errorCode and info, 2.x `Faulted`
   * for a faulted connector. `NoError` means the connector is fine (again),
   * so an alert raised earlier can be cleared.
   */
  readonly onChargerError?: (chargerId: string, connectorId: number, errorCode: string, info?: string) => void;
  /** FirmwareStatusNotification (1.6 and 2.x). */
  readonly onFirmwareStatus?: (chargerId: string, status: string) => void;
}

/** One charger's outbox for the API and metrics. */
export interface OutboxChargerStatus {
  readonly chargerId: string;
  readonly connected: boolean;
  readonly upstreamOnline: boolean;
  readonly pending: number;
  /** `createdAt` of the oldest message still waiting for the CMS, epoch ms. */
  readonly oldestPendingAt?: number;
  readonly parked: number;
}

export interface CommandResult {
  readonly status: 'Accepted' | 'Rejected' | 'Unknown';
  readonly detail?: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

export interface OcppProxy extends Adapter {
  /** Bound port (after start). */
  port(): number;
  /** Base URL chargers connect to; append `/<chargePointId>`. */
  url(): string;
  /** Ids of chargers connected right now. */
  connected(): string[];
  /** Whether a charger's upstream (CMS) link is up. */
  upstreamOnline(chargerId: string): boolean;
  readonly outbox: OcppOutbox;
  readonly stats: LinkStats;
  /** Messages the CMS refused for good (poison), newest first, for the API; optionally of one charger. */
  parked(limit?: number, chargerId?: string): OutboxRow[];
  /** Per charger (connected, or with anything queued or parked): what it still owes the CMS. */
  outboxSummary(): OutboxChargerStatus[];
  /** Put parked messages back in line and retry them; returns how many were requeued. */
  retryParked(seqs: readonly number[]): number;
  /** Commands for the API (RemoteStart/Stop, availability) sent by the gateway. */
  readonly commands: {
    remoteStart(req: { chargerId: string; connectorId?: number; idTag: string }): Promise<CommandResult>;
    remoteStop(req: { sessionId: string; chargerId: string }): Promise<CommandResult>;
    setAvailability(req: { chargerId: string; connectorId?: number; available: boolean }): Promise<CommandResult>;
  };
}

/** Read a PEM given inline or as a file path. */
function readPem(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.includes('-----BEGIN')) return value;
  return existsSync(value) ? readFileSync(value, 'utf8') : value;
}

function samePassword(given: Buffer | undefined, expected: string): boolean {
  if (!given) return false;
  const want = Buffer.from(expected, 'utf8');
  return given.length === want.length && timingSafeEqual(given, want);
}

/**
 * The local OCPP proxy: a WebSocket server for chargers (1.6J, 2.0.1,
 * 2.1; strict schema validation both ways) and, per connected charger, one
 * upstream connection to the CMS. See `link.ts` for the message flow.
 */
export function createOcppProxy(cfg: OcppProxyConfig, deps: OcppProxyDeps): OcppProxy {
  const { clock, log, bus, dispatcher } = deps;
  const o = cfg.ocpp;
  const outbox = new OcppOutbox(deps.db);
  const links = new Map<string, ChargerLink>();
  const unregister = new Map<string, () => void>();
  const stats: LinkStats = { forwarded: 0, answeredLocally: 0, replayed: 0, poisoned: 0, upstreamConnects: 0 };
  const known = new Map(cfg.chargers.filter((c) => c.protocol === 'ocpp').map((c) => [c.id, c]));
  const path = `/${o.path.replace(/^\/+|\/+$/g, '')}`.replace(/^\/$/, '');
  let http: Server | undefined;
  let boundPort = 0;
  let pruneTimer: TimerHandle | undefined;

  const registry = deps.metrics;
  const badFrames = registry
    ? new Counter({
        name: 'gridkeeper_ocpp_bad_frames_total',
        help: 'Charger frames answered with a CALLERROR (malformed or schema-invalid)',
        registers: [registry],
      })
    : undefined;
  const refused = registry
    ? new Counter({
        name: 'gridkeeper_ocpp_refused_connections_total',
        help: 'Charger connections refused (unknown charger, wrong password, bad path)',
        labelNames: ['reason'],
        registers: [registry],
      })
    : undefined;
  if (registry) {
    new Gauge({
      name: 'gridkeeper_ocpp_chargers_connected',
      help: 'Chargers connected to the OCPP proxy',
      registers: [registry],
      collect() {
        this.set([...links.values()].filter((l) => !l.disconnected).length);
      },
    });
    new Gauge({
      name: 'gridkeeper_ocpp_upstream_connected',
      help: 'Charger links whose CMS connection is up',
      registers: [registry],
      collect() {
        this.set([...links.values()].filter((l) => l.online).length);
      },
    });
    new Gauge({
      name: 'gridkeeper_ocpp_outbox_messages',
      help: 'Outbox rows by status (pending = not yet delivered to the CMS, poison = parked)',
      labelNames: ['status'],
      registers: [registry],
      collect() {
        const c = outbox.counts();
        this.set({ status: 'pending' }, c.pending);
        this.set({ status: 'poison' }, c.poison);
        this.set({ status: 'done' }, c.done);
      },
    });
    // One grouped query serves the three per-charger gauges of a scrape (they collect in the same tick).
    let backlogTick: OutboxChargerStatus[] | undefined;
    const backlogNow = (): OutboxChargerStatus[] => {
      if (!backlogTick) {
        backlogTick = summary();
        queueMicrotask(() => {
          backlogTick = undefined;
        });
      }
      return backlogTick;
    };
    new Gauge({
      name: 'gridkeeper_ocpp_outbox_pending',
      help: 'Messages of a charger waiting for the CMS',
      labelNames: ['charger'],
      registers: [registry],
      collect() {
        this.reset();
        for (const c of backlogNow()) this.set({ charger: c.chargerId }, c.pending);
      },
    });
    new Gauge({
      name: 'gridkeeper_ocpp_outbox_parked',
      help: 'Messages of a charger the CMS refused for good (poison), kept for an operator to retry',
      labelNames: ['charger'],
      registers: [registry],
      collect() {
        this.reset();
        for (const c of backlogNow()) this.set({ charger: c.chargerId }, c.parked);
      },
    });
    new Gauge({
      name: 'gridkeeper_ocpp_outbox_oldest_pending_seconds',
      help: 'Age of the oldest message of a charger still waiting for the CMS (0 = none)',
      labelNames: ['charger'],
      registers: [registry],
      collect() {
        this.reset();
        const now = clock.now();
        for (const c of backlogNow()) {
          const age = c.oldestPendingAt !== undefined ? Math.max(0, (now - c.oldestPendingAt) / 1000) : 0;
          this.set({ charger: c.chargerId }, age);
        }
      },
    });
    new Counter({
      name: 'gridkeeper_ocpp_messages_total',
      help: 'Charger calls by outcome (forwarded live, answered locally, replayed from the outbox, parked)',
      labelNames: ['outcome'],
      registers: [registry],
      collect() {
        // The link keeps plain counts; mirror them at scrape time.
        this.reset();
        this.inc({ outcome: 'forwarded' }, stats.forwarded);
        this.inc({ outcome: 'local' }, stats.answeredLocally);
        this.inc({ outcome: 'replayed' }, stats.replayed);
        this.inc({ outcome: 'poisoned' }, stats.poisoned);
      },
    });
    new Counter({
      name: 'gridkeeper_ocpp_upstream_connects_total',
      help: 'CMS connections opened (first connect and every reconnect)',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(stats.upstreamConnects);
      },
    });
  }

  const rpc = new RPCServer({
    protocols: [...OCPP_PROTOCOLS],
    strictMode: true,
    strictModeValidators: strictValidators(),
    callTimeoutMs: o.callTimeoutMs,
    pingIntervalMs: o.pingIntervalMs,
    wssOptions: { maxPayload: o.maxFrameBytes },
  });

  rpc.auth((accept, reject, handshake) => {
    const { identity } = handshake;
    const fail = (code: number, message: string, reason: string) => {
      refused?.inc({ reason });
      log.warn({ chargerId: identity, remote: handshake.remoteAddress, reason }, 'charger connection refused');
      reject(code, message);
    };
    if (handshake.endpoint !== (path || '/')) return fail(404, 'Not found', 'path');
    if (!identity) return fail(404, 'Not found', 'identity');
    const offered = [...handshake.protocols];
    if (!offered.some((p) => isOcppProtocol(p))) return fail(400, 'No supported OCPP subprotocol', 'subprotocol');
    const charger = known.get(identity);
    if (!charger && o.unknownChargers === 'reject') return fail(404, 'Unknown charger', 'unknown');
    if (o.securityProfile >= 1) {
      const expected = charger ? charger.password : o.unknownChargerPassword;
      if (expected === undefined || !samePassword(handshake.password as Buffer | undefined, expected)) {
        return fail(401, 'Unauthorized', 'password');
      }
    }
    if (!charger) log.info({ chargerId: identity }, 'accepting unknown charger with default settings');
    accept({ known: charger !== undefined });
  });

  rpc.on('client', (client) => {
    const id = client.identity as string;
    const spec = known.get(id) ?? ChargerSchema.parse({ id });
    client.on('badMessage', ({ error }: { error: Error }) => {
      badFrames?.inc();
      log.warn({ chargerId: id, err: error.message }, 'bad frame from charger');
    });
    client.on(
      'strictValidationFailure',
      ({ method, outbound, error }: { method: string; outbound: boolean; error: Error }) => {
        if (!outbound) badFrames?.inc();
        log.warn({ chargerId: id, method, outbound, err: error.message }, 'OCPP schema violation');
      },
    );
    if (client.protocol === 'ocpp1.6') speak16Errors(client);
    const previous = links.get(id);
    const link = new ChargerLink(id, client, spec, {
      cfg: o,
      clock,
      log: log.child({ chargerId: id }),
      bus,
      sessions: deps.sessions,
      outbox,
      voltageV: cfg.site.voltageV,
      env: deps.env ?? {},
      readPem,
      ...(deps.onEvChargingNeeds ? { onEvChargingNeeds: deps.onEvChargingNeeds } : {}),
      ...(deps.authorise ? { authorise: deps.authorise } : {}),
      authoriseTimeoutMs: deps.authoriseTimeoutMs ?? 2000,
      ...(deps.onChargerError ? { onChargerError: deps.onChargerError } : {}),
      ...(deps.onFirmwareStatus ? { onFirmwareStatus: deps.onFirmwareStatus } : {}),
      stats,
    });
    links.set(id, link);
    log.info({ chargerId: id, protocol: client.protocol }, 'charger connected');
    const start = async () => {
      // A charger that reconnects replaces its old link (and that link's CMS connection).
      if (previous) await previous.close(true);
      if (links.get(id) !== link) return;
      link.start();
      unregister.get(id)?.();
      unregister.set(
        id,
        dispatcher.registerSink(id, { applySetpoint: (sp: Setpoint) => linkFor(id).applySetpoint(sp) }),
      );
      // Whatever the gateway wrote before is gone or unknown: rewrite set-points on the next round.
      dispatcher.invalidate(id);
    };
    void start();
    client.on('close', () => {
      log.info({ chargerId: id }, 'charger disconnected');
      if (links.get(id) === link) {
        unregister.get(id)?.();
        unregister.delete(id);
      }
    });
  });

  function summary(): OutboxChargerStatus[] {
    const out = new Map<string, OutboxChargerStatus>();
    for (const [id, l] of links) {
      if (l.disconnected) continue;
      out.set(id, { chargerId: id, connected: true, upstreamOnline: l.online, pending: 0, parked: 0 });
    }
    for (const b of outbox.backlog()) {
      const l = links.get(b.chargerId);
      out.set(b.chargerId, {
        ...b,
        connected: l !== undefined && !l.disconnected,
        upstreamOnline: l?.online ?? false,
      });
    }
    return [...out.values()].sort((a, b) => (a.chargerId < b.chargerId ? -1 : a.chargerId > b.chargerId ? 1 : 0));
  }

  function linkFor(id: string): ChargerLink {
    const l = links.get(id);
    if (!l || l.disconnected) throw new Error(`${id} not connected`);
    return l;
  }

  async function command(chargerId: string, action: string, payload: Record<string, unknown>): Promise<CommandResult> {
    try {
      const res = await linkFor(chargerId).command(action, payload);
      const status = res.status === 'Accepted' ? 'Accepted' : res.status === 'Rejected' ? 'Rejected' : 'Unknown';
      return { status, data: res };
    } catch (err) {
      return { status: 'Rejected', detail: (err as Error).message };
    }
  }

  return {
    id: 'ocpp',
    outbox,
    stats,
    port: () => boundPort,
    url: () => `${o.securityProfile === 2 ? 'wss' : 'ws'}://${o.host}:${boundPort}${path}`,
    connected: () => [...links.entries()].filter(([, l]) => !l.disconnected).map(([id]) => id),
    upstreamOnline: (id) => links.get(id)?.online ?? false,
    parked: (limit, chargerId) => outbox.poisoned(limit, chargerId),
    outboxSummary: summary,
    retryParked(seqs) {
      const n = outbox.requeue(seqs);
      for (const l of links.values()) l.kick();
      return n;
    },
    async start() {
      if (o.securityProfile === 2) {
        if (!o.tls) throw new Error('ocpp.securityProfile 2 needs ocpp.tls (cert, key)');
        http = createHttpsServer({
          cert: readPem(o.tls.cert),
          key: readPem(o.tls.key),
          ...(o.tls.ca ? { ca: readPem(o.tls.ca) } : {}),
        });
      } else {
        http = createHttpServer();
      }
      http.on('request', (_req, res) => {
        res.statusCode = 404;
        res.end();
      });
      http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
        void rpc.handleUpgrade(req, socket, head);
      });
      const server = http;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(o.port, o.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      boundPort = (server.address() as AddressInfo).port;
      // Delivered rows only serve repeat detection; keep them a day.
      pruneTimer = clock.setInterval(() => outbox.prune(clock.now() - 86_400_000), 3_600_000);
      log.info({ url: `${o.host}:${boundPort}${path}`, upstream: o.upstream?.url ?? null }, 'OCPP proxy listening');
    },
    async stop() {
      clock.clearInterval(pruneTimer);
      for (const u of unregister.values()) u();
      unregister.clear();
      await Promise.allSettled([...links.values()].map((l) => l.close(true)));
      links.clear();
      await rpc.close({ force: true }).catch(() => {});
      const server = http;
      http = undefined;
      if (server) {
        server.closeAllConnections?.();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
    commands: {
      remoteStart: ({ chargerId, connectorId, idTag }) => {
        const l = links.get(chargerId);
        if (l?.protocol === 'ocpp1.6') {
          return command(chargerId, 'RemoteStartTransaction', { idTag, ...(connectorId ? { connectorId } : {}) });
        }
        return command(chargerId, 'RequestStartTransaction', {
          idToken: { idToken: idTag, type: 'Central' },
          remoteStartId: Math.floor(clock.now() / 1000) % 2_000_000_000,
          ...(connectorId ? { evseId: connectorId } : {}),
        });
      },
      remoteStop: ({ sessionId, chargerId }) => {
        const l = links.get(chargerId);
        const tx = sessionId.startsWith(`${chargerId}-`) ? sessionId.slice(chargerId.length + 1) : sessionId;
        if (l?.protocol === 'ocpp1.6')
          return command(chargerId, 'RemoteStopTransaction', { transactionId: Number(tx) });
        return command(chargerId, 'RequestStopTransaction', { transactionId: tx });
      },
      setAvailability: ({ chargerId, connectorId, available }) => {
        const l = links.get(chargerId);
        if (l?.protocol === 'ocpp1.6') {
          return command(chargerId, 'ChangeAvailability', {
            connectorId: connectorId ?? 0,
            type: available ? 'Operative' : 'Inoperative',
          });
        }
        return command(chargerId, 'ChangeAvailability', {
          operationalStatus: available ? 'Operative' : 'Inoperative',
          ...(connectorId ? { evse: { id: connectorId } } : {}),
        });
      },
    },
  };
}

/**
 * ocpp-rpc answers unparsable frames with the 2.0.1 codes `RpcFrameworkError`
 * and `MessageTypeNotSupported`, which OCPP 1.6J does not define; a 1.6
 * charger gets the 1.6 equivalents (`FormationViolation`, `NotSupported`).
 */
function speak16Errors(client: { sendRaw(message: string): void }): void {
  const send = client.sendRaw.bind(client);
  client.sendRaw = (message: string) => {
    if (typeof message === 'string' && message.startsWith('[4,')) {
      try {
        const frame = JSON.parse(message) as [number, string, string, string, unknown];
        if (frame[2] === 'RpcFrameworkError') frame[2] = 'FormationViolation';
        else if (frame[2] === 'MessageTypeNotSupported') frame[2] = 'NotSupported';
        else return send(message);
        return send(JSON.stringify(frame));
      } catch {
        // not ours to fix
      }
    }
    send(message);
  };
}
