import type { Adapter, SetpointSink } from '../model/adapter.js';
import type { Clock } from '../model/clock.js';
import type { Setpoint } from '../model/decision.js';
import type { GatewayBusPort } from '../ports/bus.js';
import type { OpcuaConfig, OpcuaDeviceConfig } from '../ports/config.js';
import type { Logger } from '../util/logger.js';

type RealAdapter = import('../../adapters/opcua/index.js').OpcuaAdapter;

export interface LazyOpcuaDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: GatewayBusPort;
}

/** What the gateway holds for one OPC UA device before and after node-opcua is loaded. */
export interface LazyOpcuaAdapter extends Adapter, SetpointSink {
  readonly connected: boolean;
  url(): string;
}

/**
 * OPC UA devices whose client library is imported only when a device is
 * configured and the gateway starts: node-opcua takes seconds to import, and
 * a site (or the demo) without an OPC UA device should not pay for it. The
 * import is awaited in start(), not left to run in the background: loading
 * and the client's first certificate work block the event loop for seconds,
 * and that must not happen while the gateway is already controlling
 * chargers (the grid meter would go stale).
 */
export function createLazyOpcuaAdapters(cfg: OpcuaConfig, deps: LazyOpcuaDeps): LazyOpcuaAdapter[] {
  if (!cfg.enabled || cfg.devices.length === 0) return [];
  let module: Promise<typeof import('../../adapters/opcua/index.js')> | undefined;
  const load = () => {
    module ??= import('../../adapters/opcua/index.js').then((m) => {
      // node-opcua writes to the console; route it into our logger instead.
      m.routeOpcuaLogs(deps.log.child({ component: 'opcua' }));
      return m;
    });
    return module;
  };
  return cfg.devices.map((d) => lazyAdapter(d, deps, load));
}

function lazyAdapter(
  device: OpcuaDeviceConfig,
  deps: LazyOpcuaDeps,
  load: () => Promise<typeof import('../../adapters/opcua/index.js')>,
): LazyOpcuaAdapter {
  let real: RealAdapter | undefined;
  let starting: Promise<void> | undefined;
  let stopped = false;
  const log = deps.log.child({ component: 'opcua', device: device.id });
  const endpoint = device.endpoint.replace(/\/\/[^@/]*@/, '//');
  return {
    id: `opcua:${device.id}`,
    get connected() {
      return real?.connected ?? false;
    },
    url: () => real?.url() ?? endpoint,
    async start() {
      stopped = false;
      starting = (async () => {
        const m = await load();
        if (stopped) return;
        real = m.createOpcuaAdapter(device, { ...deps, log: deps.log.child({ component: 'opcua' }) });
        await real.start();
      })().catch((err: unknown) => log.error({ err: String(err) }, 'OPC UA client failed to start'));
      await starting;
    },
    async stop() {
      stopped = true;
      await starting;
      await real?.stop();
      real = undefined;
    },
    applySetpoint(setpoint: Setpoint) {
      if (!real) return Promise.reject(new Error(`OPC UA client of ${device.id} is still loading`));
      return real.applySetpoint(setpoint);
    },
  };
}
