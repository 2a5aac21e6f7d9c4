import { type IncomingMessage, type Server, createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { type RPCClient, RPCServer } from 'ocpp-rpc';
import type { Registry } from 'prom-client';
import type { Adapter, SetpointSink } from '../../src/model/adapter.js';
import type { Clock, TimerHandle } from '../../src/model/clock.js';
import type { Setpoint } from '../../src/model/decision.js';
import type { EvChargingNeeds } from '../../src/model/events.js';
import type { GatewayBusPort } from '../../src/ports/bus.js';
import type { ChargerConfig, OcppConfig, SiteConfig } from '../../src/ports/config.js';
import type { SessionStorePort } from '../../src/ports/sessions.js';
import type { Db } from '../../src/ports/store.js';
import type { Logger } from '../../src/util/logger.js';
import type { AuthoriseHook } from './auth.js';
import { unknownChargerSpec } from './charger-spec.js';
import { type CommandResult, type OcppCommands, createCommands } from './commands.js';
import type { LinkStats } from './context.js';
import { type HandshakeGuard, guardHandshakes } from './handshake-guard.js';
import { type Handshake, checkHandshake, readPem, speak16Errors } from './handshake.js';
import { ChargerLink } from './link.js';
import { type OutboxChargerStatus, registerProxyMetrics } from './metrics.js';
import { OcppOutbox, type OutboxRow } from './outbox.js';
import { OwnAnswers } from './rpc/call.js';
import { OCPP_PROTOCOLS } from './rpc/protocol.js';

export type { CommandResult, OutboxChargerStatus };

const OPEN = 1;
/** Connections the kernel may hold for the OCPP port before the gateway accepts them (see `listen`). */
const LISTEN_BACKLOG = 8192;

export interface OcppProxyConfig {
  readonly ocpp: OcppConfig;
  /** Validated `chargers[]` entries (the OCPP ones are served; unknown chargers get the schema's defaults). */
  readonly chargers: readonly ChargerConfig[];
  readonly site: SiteConfig;
}

export interface OcppProxyDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: GatewayBusPort;
  readonly dispatcher: {
    registerSink(key: string, sink: SetpointSink): () => void;
    invalidate(prefix: string): void;
  };
  readonly sessions: SessionStorePort;
  readonly db: Db;
  readonly metrics?: Registry;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** OCPP 2.x NotifyEVChargingNeeds (departure, energy, V2X), parsed, for the fleet inputs. */
  readonly onEvChargingNeeds?: (needs: EvChargingNeeds) => void;
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
  readonly commands: OcppCommands;
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
  let guard: HandshakeGuard | undefined;

  const live = () => [...links.values()].filter((l) => !l.disconnected);
  const counters = registerProxyMetrics(deps.metrics, {
    clock,
    outbox,
    stats,
    chargersConnected: () => live().length,
    upstreamsConnected: () => [...links.values()].filter((l) => l.online).length,
    summary,
  });

  const rpc = new RPCServer({
    protocols: [...OCPP_PROTOCOLS],
    // Frames are checked once, where they arrive (`rpc/schema.ts`, in the link), not again by ocpp-rpc on the way out.
    strictMode: false,
    callTimeoutMs: o.callTimeoutMs,
    pingIntervalMs: o.pingIntervalMs,
    wssOptions: { maxPayload: o.maxFrameBytes },
  });

  rpc.auth((accept, reject, handshake) => {
    const verdict = checkHandshake(handshake as unknown as Handshake, o, path, known);
    if (!verdict.ok) {
      counters.refused(verdict.reason);
      log.warn(
        { chargerId: handshake.identity, remote: handshake.remoteAddress, reason: verdict.reason },
        'charger connection refused',
      );
      return reject(verdict.code, verdict.message);
    }
    if (!verdict.charger)
      log.info({ chargerId: handshake.identity }, 'accepting unknown charger with default settings');
    accept({ known: verdict.charger !== undefined });
  });

  rpc.on('client', (client) => attach(client));

  /**
   * Wire one charger connection. Kept out of the 'client' listener's scope on purpose: every closure made here
   * shares one V8 context, and the socket's 'close' listener lives as long as the link. A previous link captured
   * in that context kept the whole chain of earlier links (sockets, CMS clients, parsers) alive: +28 MiB per 1000
   * reconnects. The previous link is passed to `replace` as an argument and never captured here.
   */
  function attach(client: RPCClient): void {
    const id = client.identity as string;
    const spec = known.get(id) ?? unknownChargerSpec(id);
    const schemaViolation = ({ method, outbound, error }: { method: string; outbound: boolean; error: Error }) => {
      if (!outbound) counters.badFrame();
      log.warn({ chargerId: id, method, outbound, err: error.message }, 'OCPP schema violation');
    };
    // Answers to calls sent with a chosen message id are matched and validated in rpc/call.ts.
    const ownAnswers = new OwnAnswers((method, error) => schemaViolation({ method, outbound: false, error }));
    client.on('badMessage', (event: { error: Error }) => {
      // ocpp-rpc does not know those calls and reports their answers as strays: not bad frames.
      if (ownAnswers.isOwn(event)) return;
      counters.badFrame();
      log.warn({ chargerId: id, err: event.error.message }, 'bad frame from charger');
    });
    if (client.protocol === 'ocpp1.6') speak16Errors(client);
    const link = new ChargerLink(id, client, spec, {
      cfg: o,
      clock,
      log: log.child({ chargerId: id }),
      bus,
      sessions: deps.sessions,
      outbox,
      voltageV: cfg.site.voltageV,
      readPem,
      ...(deps.onEvChargingNeeds ? { onEvChargingNeeds: deps.onEvChargingNeeds } : {}),
      ...(deps.authorise ? { authorise: deps.authorise } : {}),
      authoriseTimeoutMs: deps.authoriseTimeoutMs ?? 2000,
      ...(deps.onChargerError ? { onChargerError: deps.onChargerError } : {}),
      ...(deps.onFirmwareStatus ? { onFirmwareStatus: deps.onFirmwareStatus } : {}),
      ...(o.cmsLinkLoss === 'closeChargers' ? { onCmsLost: closeForCmsLoss(id, client) } : {}),
      stats,
      ownAnswers,
    });
    const previous = links.get(id);
    links.set(id, link);
    log.info({ chargerId: id, protocol: client.protocol }, 'charger connected');
    void replace(id, link, previous);
    client.on('close', () => {
      log.info({ chargerId: id }, 'charger disconnected');
      if (links.get(id) === link) {
        unregister.get(id)?.();
        unregister.delete(id);
      }
    });
  }

  /** A charger that reconnects replaces its old link (and that link's CMS connection), then starts the new one. */
  async function replace(id: string, link: ChargerLink, previous: ChargerLink | undefined): Promise<void> {
    if (previous) await previous.close(true);
    if (links.get(id) !== link) return;
    link.start();
    unregister.get(id)?.();
    unregister.set(id, dispatcher.registerSink(id, { applySetpoint: (sp: Setpoint) => linkFor(id).applySetpoint(sp) }));
    // Whatever the gateway wrote before is gone or unknown: rewrite set-points on the next round.
    dispatcher.invalidate(id);
  }

  /**
   * `cmsLinkLoss: closeChargers` (OCPP 2.0.1/2.1 Part 4, Local Controller): the charger's socket follows its CMS
   * connection, so the station sees the outage itself and reconnects (through the gateway) when it chooses.
   */
  function closeForCmsLoss(id: string, client: RPCClient): () => void {
    return () => {
      if (client.state !== OPEN) return;
      log.warn(
        { chargerId: id },
        'CMS connection lost or refused: closing the charger socket (cmsLinkLoss: closeChargers)',
      );
      void client.close({ code: 1001, reason: 'CMS unreachable' });
    };
  }

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

  async function listen(): Promise<void> {
    if (o.securityProfile === 2) {
      if (!o.tls) throw new Error('ocpp.securityProfile 2 needs ocpp.tls (cert, key)');
      http = createHttpsServer({
        // The TLS handshake comes before the guard sees the socket: bound it the same way.
        handshakeTimeout: o.handshakeTimeoutMs,
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
    const server0 = http;
    guard = guardHandshakes(server0, {
      timeoutMs: o.handshakeTimeoutMs,
      maxPending: o.maxPendingHandshakes,
      onDropped: (reason) => counters.handshakeDropped(reason),
      ...(o.securityProfile === 2 ? { event: 'secureConnection' as const } : {}),
    });
    http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      // Refused upgrades are closed by ocpp-rpc; accepted ones belong to the charger's link from here on.
      void rpc.handleUpgrade(req, socket, head).finally(() => guard?.settled(socket));
    });
    const server = http;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Node's default accept backlog (511) overflows when thousands of chargers connect at once (a depot after
      // a power or network outage) while the event loop is busy: the kernel then drops the handshakes and the
      // chargers see resets and connect timeouts (bench ocpp-5000: 1753 of 5000). The kernel caps this at
      // net.core.somaxconn.
      server.listen({ port: o.port, host: o.host, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    boundPort = (server.address() as AddressInfo).port;
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
      await listen();
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
      guard?.stop();
      guard = undefined;
      const server = http;
      http = undefined;
      if (server) {
        server.closeAllConnections?.();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
    commands: createCommands(
      {
        protocolOf: (chargerId) => links.get(chargerId)?.protocol,
        send: (chargerId, action, payload) => linkFor(chargerId).command(action, payload),
        transactionOf: (sessionId) => deps.sessions.get(sessionId)?.chargerTransactionId,
      },
      clock,
    ),
  };
}
