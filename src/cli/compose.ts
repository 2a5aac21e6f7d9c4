import { CmsLimits } from '../control/cms-limits.js';
import { createHttpAuthoriserClient } from '../../adapters/authoriser/index.js';
import { createInfluxAdapter } from '../../adapters/influx/index.js';
import { createModbusAdapter } from '../../adapters/modbus/index.js';
import { createMqttAdapter } from '../../adapters/mqtt/index.js';
import { OCPP_MIGRATIONS, type OcppProxyDeps } from '../../adapters/ocpp/index.js';
import { createOpenAdrVen } from '../../adapters/openadr/ven.js';
import { createOscpAdapter } from '../../adapters/oscp/index.js';
import { createHttpPriceFetcher } from '../../adapters/price-feed/index.js';
import { createHttpWebhookSender } from '../../adapters/webhooks/index.js';
import { type ApiPlugin, createApiServer, type ApiServer } from '../api/server.js';
import type { GatewayConfig } from '../config/schema.js';
import { createGridService, GRID_MIGRATIONS, type GridService, siteDemandW, siteMeasurements } from '../grid/index.js';
import { createIntegration, INTEGRATION_MIGRATIONS, type Integration } from '../integration/index.js';
import { FleetInputs, knownImportLimits } from './fleet-inputs.js';
import { createLazyOpcuaAdapters } from './lazy-opcua.js';
import { composeOcppProxy } from './ocpp-thread.js';
import type { Adapter } from '../model/adapter.js';
import type { Clock } from '../model/clock.js';
import type { GridAdapterDeps } from '../ports/grid.js';
import type { PeerRoutes } from '../ports/http.js';
import { OperatorCommands } from '../state/operator-commands.js';
import type { Logger } from '../util/logger.js';
import { registerSiteMetrics } from '../util/site-metrics.js';
import { type Core, createCore } from './core.js';
import { gatewayPolicies } from './policies.js';

export interface GatewayDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Node's default process metrics on `/metrics` (default on); off where many gateways share a process. */
  readonly defaultMetrics?: boolean;
  /**
   * The OCPP proxy's worker thread died (`ocpp.thread: worker`). Default: the error is thrown on the main
   * thread, so the process ends as it would for a crash of the proxy in-thread (systemd or the container
   * restarts it; the outbox makes that safe) instead of running on without its chargers.
   */
  readonly onFatal?: (err: Error) => void;
}

export interface Gateway {
  readonly core: Core;
  readonly integration: Integration;
  readonly grid: GridService;
  /** Present once started (the API needs the started integration). */
  api(): ApiServer | undefined;
  /** A started component by id (`ocpp`, `modbus`, `mqtt`, `opcua:<id>`, `openadr`, `oscp`). */
  component<T extends Adapter>(id: string): T | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Where each server of the gateway listens (after start). */
  urls(): Record<string, string>;
}

type Component = Adapter & { url?: () => string };

/**
 * The composition root: the only place that knows every adapter. It builds
 * the core, attaches adapters and servers in dependency order, starts them
 * in that order and stops them in reverse. A component that fails to start
 * stops everything already started and the error propagates.
 */
export function createGateway(config: GatewayConfig, deps: GatewayDeps): Gateway {
  const { clock, log, env } = deps;
  // The grid service and integration need the core's registry and database;
  // the core needs their policies: late-bound getters break the cycle.
  let grid: GridService | undefined;
  let coreRef: Core | undefined;
  let integrationRef: Integration | undefined;
  const fleet = new FleetInputs(clock);
  const operator = new OperatorCommands(clock, () => coreRef?.loop.notifyChange());
  const snapshot = () => coreRef?.state.snapshot();
  const policies = gatewayPolicies(
    config,
    {
      needs: (now) => fleet.apiNeeds(now),
      // Without a configured tariff there is no price, rather than a price of 0.
      priceEurPerKwh: (now) =>
        config.grid.tariff.components.length > 0 ? grid?.tariff.priceAt(now).importPerKwh : undefined,
      operator: (now) => operator.input(now),
      siteOverride: (now) => integrationRef?.siteOverride.active(now),
      importLimits: (now) => (grid ? knownImportLimits(grid.store.all(), now) : []),
    },
    () => grid,
    {
      vehicles: (now) => {
        const s = snapshot();
        return s ? fleet.v2g(s, now) : [];
      },
      plannedVehicles: (now) => {
        const s = snapshot();
        return s ? fleet.planned(s, now) : [];
      },
    },
  );
  const cms = new CmsLimits();
  const core = createCore(config, {
    clock,
    log,
    env,
    migrations: [...OCPP_MIGRATIONS, ...INTEGRATION_MIGRATIONS, ...GRID_MIGRATIONS],
    policies: [cms.policy(), ...policies], // CMS charging profiles: the arbiter's `cms` tier
    ...(deps.defaultMetrics !== undefined ? { defaultMetrics: deps.defaultMetrics } : {}),
  });
  coreRef = core;
  cms.attach(core.bus, () => core.loop.notifyChange());
  const priceUrl = config.grid.tariff.dynamic.url;
  grid = createGridService(config, {
    clock,
    log: log.child({ component: 'grid' }),
    metrics: core.metrics,
    bus: core.bus,
    db: core.db,
    ...(priceUrl ? { priceFetcher: createHttpPriceFetcher({ url: priceUrl }) } : {}),
  });
  // A new grid signal applies at once, not at the next periodic round.
  grid.store.onChange(() => core.loop.notifyChange());
  const gridSvc = grid;
  const authoriserConfig = config.integration.authoriser;
  const integration = createIntegration(core, {
    webhookSender: createHttpWebhookSender({ timeoutMs: config.integration.webhookDelivery.timeoutMs }),
    ...(authoriserConfig ? { authoriserClient: createHttpAuthoriserClient(authoriserConfig, { clock }) } : {}),
  });
  integrationRef = integration;
  fleet.attach(integration);
  const vpp = config.grid.vpp;
  const measurements = () => ({
    ...siteMeasurements(core.state.snapshot(), {
      staleAfterMs: config.site.staleAfterMs,
      ...(vpp.battery ? { batteryId: vpp.battery.id, batteryMaxDischargeW: vpp.battery.maxDischargeW } : {}),
    }),
    limit: gridSvc.status().limit, // a limit not met at the meter is reported upstream as not met
  });

  const components: Component[] = [];
  // Endpoints that grid adapters serve to their peers (VTN callback, OSCP messages) live on the API server.
  const routePlugins: ApiPlugin[] = [];
  let api: ApiServer | undefined;
  // A wildcard listen address is no address for a peer: announce loopback, as the adapters' own listeners did
  // (grid.oscp.publicUrl and grid.openadr.callbackUrl name the address a remote peer really uses).
  const apiUrl = () => api?.url().replace('//0.0.0.0:', '//127.0.0.1:').replace('//[::]:', '//[::1]:');
  const authoriser = integration.authoriser;
  const ocppDeps: OcppProxyDeps = {
    clock,
    log: log.child({ component: 'ocpp' }),
    bus: core.bus,
    dispatcher: core.dispatcher,
    sessions: core.sessions,
    db: core.db,
    metrics: core.metrics,
    env,
    onEvChargingNeeds: (needs) => fleet.onEvChargingNeeds(needs),
    // The payment/fleet authoriser is asked beside the CMS (rule in adapters/ocpp/auth.ts).
    ...(authoriser && config.integration.authoriser
      ? {
          authorise: (req) => authoriser.authorise(req),
          // The authoriser's own fallback answers before the proxy stops waiting.
          authoriseTimeoutMs: config.integration.authoriser.timeoutMs + 500,
        }
      : {}),
    onChargerError: (chargerId, connectorId, errorCode, info) =>
      integration.alerts.reportChargerError(chargerId, connectorId, errorCode, info),
    onFirmwareStatus: (chargerId, status) => integration.alerts.reportFirmwareStatus(chargerId, status),
  };
  const ocpp = composeOcppProxy(config, ocppDeps, { env, ...(deps.onFatal ? { onFatal: deps.onFatal } : {}) });
  components.push(ocpp);
  registerSiteMetrics(core.metrics, {
    snapshot: () => core.state.snapshot(),
    setpoint: (id) => core.dispatcher.current(id),
    limits: () => core.loop.lastRound()?.limits ?? [],
    ocppChargers: () => ocpp.outboxSummary(),
    gridSignals: () => gridSvc.store.active(clock.now()),
  });
  if (config.modbus.devices.length > 0) {
    components.push(
      createModbusAdapter(config.modbus, {
        clock,
        log, // the adapter names itself in its log lines
        bus: core.bus,
        dispatcher: core.dispatcher,
        metrics: core.metrics,
      }),
    );
  }
  // node-opcua takes seconds to import: loaded when the gateway starts, in the background (lazy-opcua.ts).
  const batteries = createLazyOpcuaAdapters(config.opcua, { clock, log, bus: core.bus });
  components.push(...batteries);
  // A BMS with a writable set-point serves the `battery:<id>` set-points of the battery and VPP policies.
  batteries.forEach((b, i) => {
    const device = config.opcua.devices[i];
    if (device?.setpoint) core.dispatcher.registerSink(`battery:${device.id}`, b);
  });
  if (config.mqtt.enabled) {
    const mqtt = createMqttAdapter(config.mqtt, {
      clock,
      log: log.child({ component: 'mqtt' }),
      bus: core.bus,
      metrics: core.metrics,
      siteId: config.site.id,
      onCommand: async (cmd) => {
        switch (cmd.kind) {
          case 'site.limit': {
            // A site limit from MQTT is a signal with an expiry in the grid tier:
            // it falls back safely when it ends instead of lingering.
            if (cmd.limitW === null) {
              gridSvc.store.replace('mqtt-command', []);
              return;
            }
            const r = gridSvc.applySimpleSignal(
              { importLimitW: cmd.limitW, until: clock.now() + (cmd.durationS ?? 3600) * 1000 },
              'mqtt-command',
            );
            if (!r.ok) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join('; '));
            return;
          }
          case 'battery.setpoint': {
            // Through the policies and the dispatcher like every set-point: inside every
            // limit, with a reason, expiring after an hour.
            const id = config.grid.vpp.battery?.id ?? config.control.policies.battery.id;
            operator.setBattery(id, cmd.powerW, 'mqtt');
            return;
          }
          case 'evse.maxCurrent':
            operator.setEvseCap(cmd.evseId, cmd.currentA, 'mqtt');
            return;
        }
      },
    });
    if (config.grid.simple.enabled) {
      // The grid service logs and counts rejected payloads itself.
      mqtt.subscribe(gridSvc.mqttTopic, (topic, payload) => void gridSvc.handleMqttMessage(topic, payload));
    }
    const priceTopic = config.grid.tariff.dynamic.mqttTopic;
    if (priceTopic) mqtt.subscribe(priceTopic, (_topic, payload) => void gridSvc.prices.handleMqttMessage(payload));
    components.push(mqtt);
  }
  // A grid adapter reports its status with the grid service and serves its peer's calls on the API server.
  const gridDeps = (component: string): GridAdapterDeps => ({
    clock,
    log: log.child({ component }),
    metrics: core.metrics,
    store: gridSvc.store,
    measurements,
    baseUrl: apiUrl,
  });
  const attachGridAdapter = (name: string, a: Component & PeerRoutes & { status(): unknown }) => {
    gridSvc.attachStatus(name, () => a.status());
    routePlugins.push((app) => a.routes(app));
    components.push(a);
  };
  if (config.grid.openadr.enabled) {
    attachGridAdapter('openadr', createOpenAdrVen(config.grid.openadr, gridDeps('openadr')));
  }
  if (config.grid.oscp.enabled) {
    attachGridAdapter(
      'oscp',
      createOscpAdapter(config.grid.oscp, {
        ...gridDeps('oscp'),
        voltageV: config.site.voltageV,
        demandW: () => siteDemandW(core.state.snapshot(), { staleAfterMs: config.site.staleAfterMs }),
      }),
    );
  }

  if (config.integration.influx) {
    components.push(
      createInfluxAdapter(config.integration.influx, {
        clock,
        log: log.child({ component: 'influx' }),
        db: core.db,
        metrics: core.metrics,
        siteId: config.site.id,
        snapshot: () => core.state.snapshot(),
        setpointW: (id) => core.dispatcher.current(id)?.powerW,
      }),
    );
  }

  const started: Component[] = [];
  let coreStarted = false;
  let componentsStarted = false;

  const gateway: Gateway = {
    core,
    integration,
    grid,
    api: () => api,
    component: <T extends Adapter>(id: string) => components.find((c) => c.id === id) as T | undefined,
    async start() {
      core.start();
      coreStarted = true;
      try {
        grid?.start();
        await integration.start();
        // The API server listens before the adapters start: the OSCP flexibility provider announces its
        // endpoints on it in Register, and the VTN may call the VEN back as soon as it subscribes.
        api = await createApiServer(core, {
          integration,
          providers: {
            ocpp: ocpp.commands,
            ocppOutbox: ocpp,
            grid: {
              events: (o) => gridSvc.events(o),
              status: () => gridSvc.status(),
              applySimpleSignal: (body, source) => gridSvc.applySimpleSignal(body, source),
              onChange: (listener) => gridSvc.store.onChange(listener),
              prices: (from, to, stepMs) =>
                config.grid.tariff.components.length > 0 ? gridSvc.tariff.series(from, to, stepMs) : [],
            },
            operator,
          },
          plugins: routePlugins,
          ready: () => componentsStarted,
        });
        await api.start();
        for (const c of components) {
          await c.start();
          started.push(c);
        }
        componentsStarted = true;
      } catch (err) {
        await gateway.stop();
        throw err;
      }
    },
    async stop() {
      const safe = async (what: string, fn: () => Promise<void> | void) => {
        try {
          await fn();
        } catch (err) {
          log.error({ component: what, err }, 'error while stopping');
        }
      };
      componentsStarted = false;
      if (api) await safe('api', () => api?.stop());
      api = undefined;
      for (const c of started.splice(0).reverse()) await safe(c.id, () => c.stop());
      await safe('integration', () => integration.stop());
      await safe('grid', () => grid?.stop());
      if (coreStarted) await safe('core', () => core.stop());
      coreStarted = false;
    },
    urls() {
      const out: Record<string, string> = {};
      if (api) out['http api + dashboard'] = api.url();
      for (const c of started) if (c.url) out[c.id] = c.url();
      return out;
    },
  };
  return gateway;
}
