import type { GatewayContext } from '../context.js';
import { AlertService } from './alerts.js';
import { CommandAudit } from './audit.js';
import { ExternalAuthoriser } from './authoriser.js';
import { EventHub, feedHubFromBus, type SessionEnrichment } from './events.js';
import type { AuthoriserClient } from '../ports/authoriser.js';
import type { WebhookSender } from '../ports/webhooks.js';
import { KeyStore } from './keys.js';
import { ReportService } from './reports.js';
import { SiteOverrideStore } from './site-override.js';
import { VehicleStore } from './vehicles.js';
import { WebhookService } from './webhooks.js';

export { INTEGRATION_MIGRATIONS } from './migrations.js';
export type { SiteLimitOverride } from './site-override.js';
export type { VehicleNeed } from './vehicles.js';

/** The partner-facing layer: events, keys, audit, webhooks, vehicles, overrides, alerts, reports, authoriser. */
export interface Integration {
  readonly hub: EventHub;
  readonly keys: KeyStore;
  readonly audit: CommandAudit;
  readonly vehicles: VehicleStore;
  readonly siteOverride: SiteOverrideStore;
  readonly webhooks: WebhookService;
  readonly alerts: AlertService;
  readonly reports: ReportService;
  /** Present when `integration.authoriser` is configured; the OCPP proxy calls it. */
  readonly authoriser?: ExternalAuthoriser;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** How the integration layer reaches the outside (HTTP adapters, chosen by the composition root). */
export interface IntegrationTransports {
  /** Delivers webhook outbox entries (adapters/webhooks). */
  readonly webhookSender: WebhookSender;
  /** Asks the external authoriser (adapters/authoriser); needed when `integration.authoriser` is configured. */
  readonly authoriserClient?: AuthoriserClient;
}

/**
 * Build the integration layer on a gateway context. The database must have
 * been opened with `INTEGRATION_MIGRATIONS` (pass them to `createCore`).
 */
export function createIntegration(ctx: GatewayContext, transports: IntegrationTransports): Integration {
  const { config, clock, db, log, metrics, bus } = ctx;
  const ilog = log.child({ component: 'integration' });
  const hub = new EventHub({
    clock,
    db,
    retain: config.api.events.retain,
    onListenerError: (err) => ilog.error({ err }, 'event listener failed'),
  });
  const keys = new KeyStore(db, clock, {
    config: config.api.keys,
    ...(ctx.env.GRIDKEEPER_ADMIN_KEY ? { adminKey: ctx.env.GRIDKEEPER_ADMIN_KEY } : {}),
  });
  const audit = new CommandAudit(db);
  // Vehicles from the config file appear in the API too; their daily needs stay with the fleet policy.
  const vehicles = new VehicleStore(
    db,
    clock,
    config.fleet.vehicles.map((v) => ({
      id: v.id,
      idTags: v.idTag ? [v.idTag] : [],
      ...(v.phases ? { phases: v.phases } : {}),
    })),
  );
  const siteOverride = new SiteOverrideStore(db, clock);
  const alerts = new AlertService({ db, clock, hub, bus, checkIntervalMs: config.integration.alerts.checkIntervalMs });
  const webhooks = new WebhookService({
    db,
    clock,
    log: ilog,
    metrics,
    hub,
    sender: transports.webhookSender,
    delivery: config.integration.webhookDelivery,
    config: config.integration.webhooks,
  });
  alerts.setChecks({
    backlog: () => webhooks.backlog(),
    backlogThreshold: config.integration.webhookDelivery.backlogAlert,
    deadLetters: () => new Map(webhooks.list().map((s) => [s.id, webhooks.stats(s.id).dead])),
  });
  const reports = new ReportService({
    telemetry: ctx.telemetry,
    sessions: ctx.sessions,
    vehicles,
    config: config.integration.reports,
    sampleIntervalMs: config.store.telemetryIntervalMs,
  });
  const authoriserConfig = config.integration.authoriser;
  if (authoriserConfig && !transports.authoriserClient) {
    throw new Error('integration.authoriser is configured but no authoriser client was given');
  }
  const authoriser =
    authoriserConfig && transports.authoriserClient
      ? new ExternalAuthoriser({
          config: authoriserConfig,
          client: transports.authoriserClient,
          db,
          clock,
          log: ilog,
          metrics,
          vehicles,
        })
      : undefined;

  const enrich: SessionEnrichment = {
    costOf: (wh) => reports.costOf(wh),
    co2Of: (wh, at) => (wh / 1000) * reports.intensity(at),
    vehicleFor: (idTag) => vehicles.byIdTag(idTag)?.id,
  };
  const unsubs: Array<() => void> = [];

  return {
    hub,
    keys,
    audit,
    vehicles,
    siteOverride,
    webhooks,
    alerts,
    reports,
    ...(authoriser ? { authoriser } : {}),
    async start() {
      unsubs.push(feedHubFromBus(hub, bus, clock, enrich));
      unsubs.push(
        siteOverride.onChange((o) =>
          hub.publish(
            'site.override',
            o ? { active: true, ...o, until: new Date(o.until).toISOString() } : { active: false },
          ),
        ),
        vehicles.onChange((v, removed) => hub.publish('vehicle.updated', { vehicleId: v.id, removed, vehicle: v })),
      );
      siteOverride.start();
      alerts.start();
      webhooks.start();
    },
    async stop() {
      for (const u of unsubs.splice(0)) u();
      siteOverride.stop();
      alerts.stop();
      await webhooks.stop();
    },
  };
}
