/**
 * What the gateway's API takes from an OCPP proxy: its commands and the state
 * of its outbox. The proxy in adapters/ocpp implements these.
 */

export interface CommandResult {
  /** `Accepted` when the device (or upstream) took the command. */
  readonly status: 'Accepted' | 'Rejected' | 'Unknown';
  /** Human-readable detail from the device or proxy. */
  readonly detail?: string;
  /** Protocol-specific extra data (e.g. the OCPP transactionId). */
  readonly data?: Readonly<Record<string, unknown>>;
}

/** Commands carried out over OCPP by the proxy. */
export interface OcppCommands {
  remoteStart(req: { chargerId: string; connectorId?: number; idTag: string }): Promise<CommandResult>;
  /** Stop the session with the gateway's session id. */
  remoteStop(req: { sessionId: string; chargerId: string; transactionId?: string }): Promise<CommandResult>;
  setAvailability(req: { chargerId: string; connectorId?: number; available: boolean }): Promise<CommandResult>;
}

/** One charger's OCPP outbox: what it still owes the CMS. */
export interface OcppOutboxCharger {
  readonly chargerId: string;
  readonly connected: boolean;
  readonly upstreamOnline: boolean;
  readonly pending: number;
  /** When the oldest message still waiting for the CMS was queued, epoch ms. */
  readonly oldestPendingAt?: number;
  readonly parked: number;
}
