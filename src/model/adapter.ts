import type { Setpoint } from './decision.js';

/**
 * The contract every protocol adapter implements (one adapter per protocol
 * link or server). Adapters publish readings on the bus and may register as
 * the sink for set-points of the EVSEs or devices they own.
 */
export interface Adapter {
  readonly id: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A device link that can apply an EVSE set-point. */
export interface SetpointSink {
  /** Resolves once the device accepted the set-point; rejects on refusal or timeout. */
  applySetpoint(setpoint: Setpoint): Promise<void>;
}
