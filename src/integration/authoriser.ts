import { Counter, type Registry } from 'prom-client';
import { Webhook } from 'standardwebhooks';
import type { AuthorisationResult } from '../api/providers.js';
import type { AuthoriserConfig } from '../config/sections/integration.js';
import type { Clock } from '../model/clock.js';
import type { Db } from '../store/db.js';
import type { Logger } from '../util/logger.js';
import type { VehicleStore } from './vehicles.js';

export interface AuthoriseRequest {
  readonly idTag: string;
  readonly chargerId: string;
  readonly connectorId?: number;
}

const STATUSES = new Set(['Accepted', 'Blocked', 'Expired', 'Invalid']);

/**
 * Asks an external service (payment app, fleet tool) whether an idTag may
 * charge. The request is signed like a webhook. When the service does not
 * answer in time the configured fallback decides: a cached earlier answer,
 * then the local list and the fleet's vehicle tokens, or a fixed answer.
 * The OCPP proxy calls `authorise()` when a charger sends Authorize or
 * StartTransaction.
 */
export class ExternalAuthoriser {
  private readonly signer?: Webhook;
  private readonly results: Counter<'source' | 'status'>;
  private seq = 0;

  constructor(
    private readonly opts: {
      config: AuthoriserConfig;
      db: Db;
      clock: Clock;
      log: Logger;
      metrics: Registry;
      vehicles?: VehicleStore;
    },
  ) {
    if (opts.config.secret) this.signer = new Webhook(opts.config.secret);
    this.results =
      (opts.metrics.getSingleMetric('gridkeeper_authoriser_results_total') as Counter<'source' | 'status'>) ??
      new Counter({
        name: 'gridkeeper_authoriser_results_total',
        help: 'Authorisation answers by source (remote, cache, local-list, fallback) and status',
        labelNames: ['source', 'status'],
        registers: [opts.metrics],
      });
  }

  async authorise(req: AuthoriseRequest): Promise<AuthorisationResult> {
    const r = await this.ask(req);
    this.results.inc({ source: r.source, status: r.status });
    return r;
  }

  private async ask(req: AuthoriseRequest): Promise<AuthorisationResult> {
    const { config, clock } = this.opts;
    const body = JSON.stringify({
      type: 'authorise.request',
      timestamp: new Date(clock.now()).toISOString(),
      data: { idTag: req.idTag, chargerId: req.chargerId, connectorId: req.connectorId ?? null },
    });
    const msgId = `auth_${clock.now()}_${++this.seq}`;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'webhook-id': msgId };
    if (this.signer) {
      const ts = clock.now();
      headers['webhook-timestamp'] = String(Math.floor(ts / 1000));
      headers['webhook-signature'] = this.signer.sign(msgId, new Date(ts), body);
    }
    try {
      const res = await fetch(config.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(config.timeoutMs),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const json = (await res.json()) as { status?: unknown; vehicleId?: unknown };
      const status = typeof json.status === 'string' && STATUSES.has(json.status) ? json.status : undefined;
      if (!status) throw new Error('answer without a valid status');
      const result: AuthorisationResult = {
        status: status as AuthorisationResult['status'],
        source: 'remote',
        ...(typeof json.vehicleId === 'string' ? { vehicleId: json.vehicleId } : {}),
      };
      this.remember(req.idTag, result);
      return result;
    } catch (err) {
      this.opts.log.warn(
        { chargerId: req.chargerId, err: err instanceof Error ? err.message : String(err) },
        'external authoriser did not answer; using fallback',
      );
      return this.fallback(req.idTag);
    }
  }

  private fallback(idTag: string): AuthorisationResult {
    const { config, clock, db } = this.opts;
    if (config.fallback === 'accept') return { status: 'Accepted', source: 'fallback' };
    if (config.fallback === 'reject') return { status: 'Invalid', source: 'fallback' };
    const cached = db
      .prepare('SELECT * FROM authoriser_cache WHERE id_tag = ? AND expires_at > ?')
      .get(idTag, clock.now()) as { status: AuthorisationResult['status']; vehicle_id: string | null } | undefined;
    if (cached)
      return { status: cached.status, source: 'cache', ...(cached.vehicle_id ? { vehicleId: cached.vehicle_id } : {}) };
    if (config.localList.includes(idTag)) return { status: 'Accepted', source: 'local-list' };
    const v = this.opts.vehicles?.byIdTag(idTag);
    if (v) return { status: 'Accepted', source: 'local-list', vehicleId: v.id };
    return { status: 'Invalid', source: 'fallback' };
  }

  private remember(idTag: string, r: AuthorisationResult): void {
    const { db, clock, config } = this.opts;
    if (r.status === 'Accepted' && config.cacheTtlMs > 0) {
      db.prepare(
        `INSERT INTO authoriser_cache (id_tag, status, vehicle_id, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(id_tag) DO UPDATE SET status = excluded.status, vehicle_id = excluded.vehicle_id, expires_at = excluded.expires_at`,
      ).run(idTag, r.status, r.vehicleId ?? null, clock.now() + config.cacheTtlMs);
    } else {
      // A refusal must not leave an old acceptance behind for the next outage.
      db.prepare('DELETE FROM authoriser_cache WHERE id_tag = ?').run(idTag);
    }
  }
}
