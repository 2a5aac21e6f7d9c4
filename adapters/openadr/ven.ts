import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Adapter } from '../../src/model/adapter.js';
import type { TimerHandle } from '../../src/model/clock.js';
import type { GridSignal, VenMeasurements } from '../../src/model/grid.js';
import type { OpenAdrConfig } from '../../src/ports/config.js';
import type { GridAdapterDeps } from '../../src/ports/grid.js';
import type { PeerRoutes } from '../../src/ports/http.js';
import { gridMetrics } from '../../src/util/grid-metrics.js';
import { callbackRoutes } from './callback.js';
import { OadrClient, OadrHttpError, errText } from './client.js';
import { type EventIssue, eventToSignals, parseEvent } from './events.js';
import { buildReport } from './report.js';
import { clockSkew } from './skew.js';
import {
  NotificationSchema,
  type OadrEvent,
  type OadrVen,
  type Program,
  ProgramSchema,
  ResourceSchema,
  SubscriptionSchema,
  VenSchema,
} from './schemas.js';

export { buildReport };
export type { VenMeasurements };

/** `baseUrl`: the callback route is served there; a subscription without a configured `callbackUrl` points at it. */
export type OpenAdrVenDeps = GridAdapterDeps;

export interface VenStatus {
  readonly venId?: string;
  readonly programs: ReadonlyArray<{ id: string; name: string }>;
  readonly lastPollAt?: number;
  readonly lastError?: string;
  readonly clockSkewMs?: number;
  readonly clockSkewExceeded: boolean;
  readonly subscribed: boolean;
  readonly reportsSent: number;
  readonly rejected: readonly EventIssue[];
}

/** `routes()`: the subscription callback (the subscription's bearer token), on the gateway's HTTP server. */
export interface OpenAdrVen extends Adapter, PeerRoutes {
  /** Poll programs/events once (tests, subscription callbacks). */
  pollNow(): Promise<void>;
  /** Send reports for the active events once. */
  reportNow(): Promise<void>;
  /** A VTN notification (subscription callback); returns the HTTP status to answer. */
  handleNotification(body: unknown, authorization?: string): number;
  status(): VenStatus;
  /** Where the VTN is asked to call back (configured URL, or the gateway's own server); none: no subscription. */
  callbackUrl(): string | undefined;
}

const SOURCE = 'openadr';
const PAGE = 50;

/**
 * OpenADR 3 VEN: OAuth2 client credentials, finds the configured programs,
 * registers itself and its resources, polls events (and subscribes to
 * them when a callback address is configured), turns them into grid
 * signals and reports the measured response. A VTN that does not answer
 * marks the source unreachable so the store's fallback applies.
 */
export function createOpenAdrVen(cfg: OpenAdrConfig, deps: OpenAdrVenDeps): OpenAdrVen {
  const { clock, log, store } = deps;
  const metrics = gridMetrics(deps.metrics);
  if (!cfg.vtnUrl) throw new Error('grid.openadr.vtnUrl is required when OpenADR is enabled');
  const skew = clockSkew({
    maxClockSkewMs: cfg.maxClockSkewMs,
    log,
    gauge: metrics.clockSkewSeconds,
    source: SOURCE,
  });
  const client = new OadrClient({
    baseUrl: cfg.vtnUrl,
    ...(cfg.tokenUrl ? { tokenUrl: cfg.tokenUrl } : {}),
    ...(cfg.clientId ? { clientId: cfg.clientId } : {}),
    ...(cfg.clientSecret ? { clientSecret: cfg.clientSecret } : {}),
    timeoutMs: cfg.requestTimeoutMs,
    clock,
    log,
    onServerDate: skew.observe,
  });
  const resourceNames = ['site', ...cfg.resources];
  let programs: Program[] = [];
  let pollsSinceResolve = 0;
  let venId: string | undefined;
  const registeredResources = new Set<string>();
  let subscribed = false;
  const callbackToken = randomBytes(18).toString('base64url');
  let pollTimer: TimerHandle | undefined;
  let reportTimer: TimerHandle | undefined;
  let running = false;
  let polling: Promise<void> | undefined;
  let pollAgain = false;
  let lastPollAt: number | undefined;
  let lastError: string | undefined;
  let reportsSent = 0;
  let lastReportAt: number | undefined;
  /** Last accepted version of every event: a malformed update keeps it. */
  const accepted = new Map<string, { event: OadrEvent; signals: GridSignal[] }>();
  const finalReported = new Set<string>();
  let rejected: EventIssue[] = [];

  // The deprecated callbackPort (the VEN's own listener before the callback moved onto the API server)
  // still asks for a subscription, now at the API server's address.
  const subscribeLocally = cfg.subscribe || cfg.callbackPort !== undefined;
  if (cfg.callbackPort !== undefined || cfg.callbackHost !== undefined) {
    log.warn(
      { callbackPort: cfg.callbackPort, callbackHost: cfg.callbackHost },
      `grid.openadr.callbackPort/callbackHost are deprecated and no longer open a listener: the callback is served by the HTTP API at ${cfg.callbackPath}`,
    );
  }
  const callbackUrl = (): string | undefined => {
    if (cfg.callbackUrl) return cfg.callbackUrl;
    const base = subscribeLocally ? deps.baseUrl?.() : undefined;
    return base ? `${base.replace(/\/+$/, '')}${cfg.callbackPath}` : undefined;
  };

  async function resolvePrograms(): Promise<void> {
    const list = await client.request('GET', '/programs', z.array(z.unknown()));
    const found: Program[] = [];
    for (const raw of list) {
      const p = ProgramSchema.safeParse(raw);
      if (!p.success) {
        metrics.rejected.inc({ source: SOURCE, field: `program.${p.error.issues[0]?.path.join('.') ?? ''}` });
        continue;
      }
      if (cfg.programNames.length === 0 || cfg.programNames.includes(p.data.programName)) found.push(p.data);
    }
    const missing = cfg.programNames.filter((n) => !found.some((p) => p.programName === n));
    if (missing.length > 0) log.warn({ missing }, 'OpenADR programs not found on the VTN');
    programs = found;
  }

  async function register(): Promise<void> {
    if (!venId) {
      const existing = await client.request(
        'GET',
        `/vens?venName=${encodeURIComponent(cfg.venName)}`,
        z.array(VenSchema),
      );
      const mine = existing.find((v) => v.venName === cfg.venName);
      const ven: OadrVen =
        mine ??
        (await client.request('POST', '/vens', VenSchema, {
          objectType: 'VEN',
          venName: cfg.venName,
          attributes: [{ type: 'DESCRIPTION', values: ['gridkeeper EV depot gateway'] }],
        }));
      venId = ven.id;
      log.info({ venId, venName: cfg.venName }, 'OpenADR VEN registered');
    }
    if (!venId) return;
    if (registeredResources.size < resourceNames.length) {
      const have = await client.request('GET', `/vens/${venId}/resources`, z.array(ResourceSchema));
      for (const r of have) registeredResources.add(r.resourceName);
      for (const name of resourceNames) {
        if (registeredResources.has(name)) continue;
        await client.request('POST', `/vens/${venId}/resources`, ResourceSchema, {
          objectType: 'RESOURCE',
          resourceName: name,
          venID: venId,
        });
        registeredResources.add(name);
      }
    }
  }

  async function subscribe(): Promise<void> {
    const url = callbackUrl();
    if (subscribed || !url || programs.length === 0) return;
    for (const p of programs) {
      await client.request('POST', '/subscriptions', SubscriptionSchema, {
        objectType: 'SUBSCRIPTION',
        clientName: cfg.venName,
        programID: p.id,
        objectOperations: [
          { objects: ['EVENT'], operations: ['POST', 'PUT', 'DELETE'], callbackUrl: url, bearerToken: callbackToken },
        ],
      });
    }
    subscribed = true;
    log.info({ callbackUrl: url }, 'OpenADR subscription created');
  }

  async function fetchEvents(programId: string): Promise<unknown[]> {
    const out: unknown[] = [];
    for (let skip = 0; ; skip += PAGE) {
      const page = await client.request(
        'GET',
        `/events?programID=${encodeURIComponent(programId)}&skip=${skip}&limit=${PAGE}`,
        z.array(z.unknown()),
      );
      out.push(...page);
      if (page.length < PAGE) return out;
    }
  }

  async function pollOnce(): Promise<void> {
    const now = clock.now();
    try {
      // Programs are looked up again now and then: a configured program may be published on the VTN later.
      const someMissing = programs.length < Math.max(1, cfg.programNames.length);
      if (programs.length === 0 || (someMissing && ++pollsSinceResolve >= 30)) {
        pollsSinceResolve = 0;
        await resolvePrograms();
      }
      try {
        await register();
        await subscribe();
      } catch (err) {
        // Registration and subscriptions are optional for receiving events; polling goes on without them.
        log.warn({ err: errText(err) }, 'OpenADR registration/subscription failed; polling anyway');
      }
      const seen = new Set<string>();
      const issues: EventIssue[] = [];
      for (const program of programs) {
        const raws = await fetchEvents(program.id);
        for (const raw of raws) {
          const parsed = parseEvent(raw);
          if (!parsed.ok) {
            issues.push(parsed.issue);
            if (parsed.id) seen.add(parsed.id); // keep its previous accepted version
            continue;
          }
          const ev = parsed.event;
          seen.add(ev.id);
          const conv = eventToSignals(ev, program, {
            venName: cfg.venName,
            resourceNames,
            clockOffsetMs: skew.offsetMs(),
            now,
          });
          for (const s of conv.skipped) log.debug({ ...s }, 'OpenADR payload skipped');
          if (conv.issues.length > 0) {
            issues.push(...conv.issues);
            continue;
          }
          if (!conv.targeted) {
            accepted.delete(ev.id);
            continue;
          }
          const prev = accepted.get(ev.id);
          if (!prev || prev.event.modificationDateTime !== ev.modificationDateTime) {
            for (const s of conv.signals) metrics.accepted.inc({ source: SOURCE, kind: s.kind });
            log.info(
              { eventId: ev.id, eventName: ev.eventName, signals: conv.signals.length },
              prev ? 'OpenADR event updated' : 'OpenADR event received',
            );
          }
          accepted.set(ev.id, { event: ev, signals: conv.signals });
        }
      }
      // Events the VTN no longer lists were cancelled/deleted.
      for (const id of [...accepted.keys()]) if (!seen.has(id)) accepted.delete(id);
      for (const i of issues) {
        metrics.rejected.inc({ source: SOURCE, field: i.field });
        log.warn(
          { eventId: i.eventId, field: i.field, err: i.message },
          `OpenADR event rejected: ${i.field}: ${i.message}`,
        );
      }
      rejected = issues;
      store.replace(
        SOURCE,
        [...accepted.values()].flatMap((a) => a.signals),
        clock.now(),
      );
      metrics.sourceUp.set({ source: SOURCE }, 1);
      metrics.requests.inc({ source: SOURCE, result: 'ok' });
      lastPollAt = clock.now();
      lastError = undefined;
    } catch (err) {
      lastError = errText(err);
      if (err instanceof OadrHttpError && err.status === 404) programs = [];
      metrics.sourceUp.set({ source: SOURCE }, 0);
      metrics.requests.inc({ source: SOURCE, result: 'error' });
      store.unreachable(SOURCE, lastError, clock.now());
      log.warn({ err: lastError }, 'OpenADR VTN poll failed; fallback applies while it is unreachable');
    }
  }

  function pollNow(): Promise<void> {
    if (polling) {
      pollAgain = true;
      return polling;
    }
    polling = (async () => {
      do {
        pollAgain = false;
        await pollOnce();
      } while (pollAgain && running);
    })().finally(() => {
      polling = undefined;
    });
    return polling;
  }

  function scheduleNext(): void {
    if (!running) return;
    pollTimer = clock.setTimeout(() => {
      void pollNow().finally(scheduleNext);
    }, cfg.pollIntervalMs);
  }

  async function reportNow(): Promise<void> {
    const now = clock.now();
    const m = deps.measurements();
    const since = lastReportAt ?? now - cfg.reportIntervalMs;
    lastReportAt = now;
    for (const [id, { event, signals }] of accepted) {
      const limits = signals.filter((s) => s.kind !== 'price');
      if (limits.length === 0) continue;
      const active = limits.some((s) => s.start <= now && now < s.end);
      const endedRecently = !active && limits.every((s) => s.end <= now) && !finalReported.has(id);
      const started = limits.some((s) => s.start <= now);
      if (!started || (!active && !endedRecently)) continue;
      if (endedRecently) finalReported.add(id);
      const report = buildReport(event, id, m, { since, now, venName: cfg.venName, resourceNames });
      try {
        await client.request('POST', '/reports', z.unknown(), report);
        reportsSent++;
      } catch (err) {
        if (endedRecently) finalReported.delete(id); // try the final report again next time
        log.warn({ eventId: id, err: errText(err) }, 'OpenADR report not delivered');
      }
    }
  }

  function handleNotification(body: unknown, authorization?: string): number {
    if (authorization !== `Bearer ${callbackToken}`) return 403;
    const n = NotificationSchema.safeParse(body);
    if (!n.success) {
      const field = `notification.${n.error.issues[0]?.path.join('.') ?? ''}`;
      metrics.rejected.inc({ source: SOURCE, field });
      log.warn({ field }, `OpenADR notification rejected: ${field}`);
      return 400;
    }
    // The notification only says something changed; a poll reads the authoritative state (and checks it fully).
    if (n.data.objectType === 'EVENT' || n.data.objectType === 'PROGRAM') void pollNow();
    return 200;
  }

  return {
    id: 'openadr-ven',
    async start() {
      if (running) return;
      running = true;
      store.monitor(SOURCE);
      void pollNow().finally(scheduleNext);
      reportTimer = clock.setInterval(() => void reportNow(), cfg.reportIntervalMs);
    },
    async stop() {
      running = false;
      clock.clearTimeout(pollTimer);
      clock.clearInterval(reportTimer);
      pollTimer = reportTimer = undefined;
      await polling?.catch(() => {});
    },
    pollNow,
    reportNow,
    handleNotification,
    callbackUrl,
    routes: (app) => callbackRoutes(app, { path: cfg.callbackPath, handle: handleNotification }),
    status: () => ({
      ...(venId ? { venId } : {}),
      programs: programs.map((p) => ({ id: p.id, name: p.programName })),
      ...(lastPollAt !== undefined ? { lastPollAt } : {}),
      ...(lastError !== undefined ? { lastError } : {}),
      ...(skew.skewMs() !== undefined ? { clockSkewMs: skew.skewMs() } : {}),
      clockSkewExceeded: skew.exceeded(),
      subscribed,
      reportsSent,
      rejected,
    }),
  };
}
