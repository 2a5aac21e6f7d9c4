import type { Clock } from '../../../src/model/clock.js';
import type { PhaseRotation } from '../../../src/model/site.js';
import type { SitePhysics } from '../../site/physics.js';
import type { OcppVersion } from './wire.js';

export interface SimChargerOptions {
  readonly id: string;
  readonly protocol: OcppVersion;
  /** Base URL of the gateway (or a CMS); the id is appended. */
  readonly url: string;
  readonly clock: Clock;
  readonly password?: string;
  readonly physics?: SitePhysics;
  readonly connectors?: number;
  readonly phaseRotation?: PhaseRotation;
  readonly maxCurrentA?: number;
  readonly voltageV?: number;
  /** Overrides the factory MeterValueSampleInterval / TxUpdatedInterval (60 s), ms. */
  readonly meterIntervalMs?: number;
  /** Overrides the factory sampled measurands (1.6 notation, e.g. `Current.Import`, `Power.Active.Import.L1`). */
  readonly sampledData?: readonly string[];
  /** Physics step, ms. */
  readonly stepMs?: number;
  /** 2.1 only: accepts negative set-points (V2G discharge). */
  readonly bidirectional?: boolean;
  /** Trusted CA for wss:// (PEM). */
  readonly ca?: string;
  readonly vendor?: string;
  readonly model?: string;
  /** End the session (and unplug) when the vehicle is full (default), else stay SuspendedEV until departure. */
  readonly stopWhenFull?: boolean;
  /** Wait for an answer before a queued message is resent, ms. */
  readonly callTimeoutMs?: number;
}
