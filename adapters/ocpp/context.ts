import type { Clock } from '../../src/model/clock.js';
import type { GatewayBusPort } from '../../src/ports/bus.js';
import type { ChargerConfig, OcppConfig } from '../../src/ports/config.js';
import type { SessionStorePort } from '../../src/ports/sessions.js';
import type { Logger } from '../../src/util/logger.js';
import type { AuthoriseHook } from './auth.js';
import type { EvChargingNeeds } from '../../src/model/events.js';
import type { OcppOutbox } from './outbox.js';
import type { OwnAnswers } from './rpc/call.js';

/** Plain counters of the proxy, mirrored into Prometheus at scrape time. */
export interface LinkStats {
  forwarded: number;
  answeredLocally: number;
  replayed: number;
  poisoned: number;
  upstreamConnects: number;
}

/** Partner hooks of the proxy (see README "Partner hooks"). */
export interface LinkHooks {
  readonly onEvChargingNeeds?: (needs: EvChargingNeeds) => void;
  readonly authorise?: AuthoriseHook;
  readonly authoriseTimeoutMs: number;
  readonly onChargerError?: (chargerId: string, connectorId: number, errorCode: string, info?: string) => void;
  readonly onFirmwareStatus?: (chargerId: string, status: string) => void;
  /** The charger's CMS connection dropped or could not be opened (`ocpp.cmsLinkLoss: closeChargers`). */
  readonly onCmsLost?: () => void;
}

/** What a charger link needs from the proxy that owns it. */
export interface LinkContext extends LinkHooks {
  readonly cfg: OcppConfig;
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: GatewayBusPort;
  readonly sessions: SessionStorePort;
  readonly outbox: OcppOutbox;
  readonly voltageV: number;
  readonly readPem: (value: string | undefined) => string | undefined;
  readonly stats: LinkStats;
  /** Answers on the charger socket taken by `callWithId` (not bad frames). */
  readonly ownAnswers: OwnAnswers;
}

/** One charger as the link's parts see it. */
export interface ChargerRef {
  readonly id: string;
  readonly spec: ChargerConfig;
}
