import type { Registry } from 'prom-client';
import type { GatewayBus } from './bus/events.js';
import type { GatewayConfig } from './config/schema.js';
import type { ControlLoop } from './control/control-loop.js';
import type { Dispatcher } from './control/dispatcher.js';
import type { Clock } from './model/clock.js';
import type { SiteState } from './state/site-state.js';
import type { Db } from './store/db.js';
import type { SessionStore } from './store/session-store.js';
import type { SetpointAudit } from './store/setpoint-audit.js';
import type { TelemetryStore } from './store/telemetry-store.js';
import type { Logger } from './util/logger.js';

/**
 * Everything a component may be given by the composition root. Components
 * take the narrow parts they need (`Pick<GatewayContext, 'clock' | 'bus'>`),
 * never build their own database, bus or clock.
 */
export interface GatewayContext {
  readonly config: GatewayConfig;
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: GatewayBus;
  readonly state: SiteState;
  readonly dispatcher: Dispatcher;
  readonly loop: ControlLoop;
  readonly db: Db;
  readonly sessions: SessionStore;
  readonly setpointAudit: SetpointAudit;
  readonly telemetry: TelemetryStore;
  readonly metrics: Registry;
  /** Environment (secrets); injected so tests never depend on the real one. */
  readonly env: Readonly<Record<string, string | undefined>>;
}
