import { createModbusAdapter } from '../../adapters/modbus/index.js';
import { createMqttAdapter } from '../../adapters/mqtt/index.js';
import { OCPP_MIGRATIONS, createOcppProxy } from '../../adapters/ocpp/index.js';
import { createOpenAdrVen } from '../../adapters/openadr/ven.js';
import { createOpcuaAdapters, routeOpcuaLogs } from '../../adapters/opcua/index.js';
import { createOscpAdapter } from '../../adapters/oscp/index.js';
import { createApiServer, type ApiServer } from '../api/server.js';
import type { GatewayConfig } from '../config/schema.js';
import { controlPolicies } from '../control/policies.js';
import type { VehicleNeed as FleetNeed } from '../../policies/fleet-deadlines.js';
import { createGridService, type GridService, gridPolicies, siteMeasurements } from '../grid/index.js';
import { createIntegration, INTEGRATION_MIGRATIONS, type Integration } from '../integration/index.js';
import type { Adapter } from '../model/adapter.js';
import type { Clock } from '../model/clock.js';
import type { Logger } from '../util/logger.js';
import { type Core, createCore } from './core.js';

export interface GatewayDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
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
 * Vehicle needs set through the API, as the fleet-deadline policy reads
 * them: energy from `energyNeededWh`, or from the SoC gap and capacity.
 */
function apiNeeds(integration: Integration | undefined, now: number): FleetNeed[] {
  const out: FleetNeed[] = [];
  for (const n of integration?.vehicles.needs(now) ?? []) {
    const fromSoc =
      n.targetSocPct !== undefined && n.currentSocPct !== undefined && n.batteryCapacityWh !== undefined
        ? (Math.max(0, n.targetSocPct - n.currentSocPct) / 100) * n.batteryCapacityWh
        : undefined;
    const energyWh = n.energyNeededWh ?? fromSoc;
    if (energyWh === undefined) continue;
    const tags = n.idTags.length > 0 ? n.idTags : [undefined];
    for (const idTag of tags) {
      out.push({ vehicleId: n.vehicleId, ...(idTag ? { idTag } : {}), departureAt: n.departureAt, energyWh });
    }
  }
  return out;
}

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
  let integration: Integration | undefined;
  const policies = [
    ...controlPolicies(config, {
      needs: (now) => apiNeeds(integration, now),
      priceEurPerKwh: (now) => grid?.tariff.priceAt(now).importPerKwh,
    }),
    ...gridPolicies(config, () => grid),
  ];
  const core = createCore(config, {
    clock,
    log,
    env,
    migrations: [...OCPP_MIGRATIONS, ...INTEGRATION_MIGRATIONS],
    policies,
  });
  grid = createGridService(config, {
    clock,
    log: log.child({ component: 'grid' }),
    metrics: core.metrics,
    bus: core.bus,
  });
  integration = createIntegration(core);
  const measurements = () => siteMeasurements(core.state.snapshot(), { staleAfterMs: config.site.staleAfterMs });

  const components: Component[] = [];
  const ocpp = createOcppProxy(
    { ocpp: config.ocpp, chargers: config.chargers, site: config.site },
    {
      clock,
      log: log.child({ component: 'ocpp' }),
      bus: core.bus,
      dispatcher: core.dispatcher,
      sessions: core.sessions,
      db: core.db,
      metrics: core.metrics,
      env,
    },
  );
  components.push(ocpp);
  if (config.modbus.devices.length > 0) {
    components.push(
      createModbusAdapter(config.modbus, {
        clock,
        log: log.child({ component: 'modbus' }),
        bus: core.bus,
        dispatcher: core.dispatcher,
        metrics: core.metrics,
      }),
    );
  }
  for (const ua of createOpcuaAdapters(config.opcua, {
    clock,
    log: log.child({ component: 'opcua' }),
    bus: core.bus,
  })) {
    components.push(ua);
  }
  if (config.mqtt.enabled) {
    components.push(
      createMqttAdapter(config.mqtt, {
        clock,
        log: log.child({ component: 'mqtt' }),
        bus: core.bus,
        metrics: core.metrics,
        siteId: config.site.id,
      }),
    );
  }
  if (config.grid.openadr.enabled) {
    components.push(
      createOpenAdrVen(config.grid.openadr, {
        clock,
        log: log.child({ component: 'openadr' }),
        metrics: core.metrics,
        store: grid.store,
        measurements,
      }),
    );
  }
  if (config.grid.oscp.enabled) {
    components.push(
      createOscpAdapter(config.grid.oscp, {
        clock,
        log: log.child({ component: 'oscp' }),
        metrics: core.metrics,
        store: grid.store,
        measurements,
        voltageV: config.site.voltageV,
      }),
    );
  }

  const gridService = grid;
  let api: ApiServer | undefined;
  const started: Component[] = [];
  let coreStarted = false;

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
        await integration?.start();
        for (const c of components) {
          await c.start();
          started.push(c);
        }
        api = await createApiServer(core, {
          integration,
          providers: {
            ocpp: ocpp.commands,
            grid: {
              events: (o) => gridService.events(o),
              status: () => gridService.status(),
              applySimpleSignal: (body, source) => gridService.applySimpleSignal(body, source),
              onChange: (listener) => gridService.store.onChange(listener),
            },
          },
        });
        await api.start();
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
      if (api) await safe('api', () => api?.stop());
      api = undefined;
      for (const c of started.splice(0).reverse()) await safe(c.id, () => c.stop());
      await safe('integration', () => integration?.stop());
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
