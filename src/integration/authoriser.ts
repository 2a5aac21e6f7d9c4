import { Counter, type Registry } from 'prom-client';
import type { AuthorisationResult } from '../api/providers.js';
import type { AuthoriserConfig } from '../config/sections/integration.js';
import type { Clock } from '../model/clock.js';
import type { AuthoriseRequest, AuthoriserClient } from '../ports/authoriser.js';
import type { Db } from '../store/db.js';
import type { Logger } from '../util/logger.js';
import type { VehicleStore } from './vehicles.js';

export type { AuthoriseRequest };

/**
 * Asks an external service (payment app, fleet tool) whether an idTag may
 * charge, through its client (HTTP in production: adapters/authoriser).
 * When the service does not answer in time the configured fallback
 * decides: a cached earlier answer, then the local list and the fleet's
 * vehicle tokens, or a fixed answer.
 * The OCPP proxy calls `authorise()` when a charger sends Authorize or
 * StartTransaction.
 */
export class ExternalAuthoriser {
  private readonly results: Counter<'source' | 'status'>;

  constructor(
    private readonly opts: {
      config: AuthoriserConfig;
      client: AuthoriserClient;
      db: Db;
      clock: Clock;
      log: Logger;
      metrics: Registry;
      vehicles?: VehicleStore;
    },
  ) {
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
    try {
      const answer = await this.opts.client.ask(req);
      const result: AuthorisationResult = { ...answer, source: 'remote' };
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
