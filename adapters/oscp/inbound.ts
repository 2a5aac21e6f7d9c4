import type { z } from 'zod';
import type { GridMetrics } from '../../src/util/grid-metrics.js';
import type { Logger } from '../../src/util/logger.js';
import type { Forecasts } from './forecasts.js';
import {
  blockToW,
  GroupCapacityForecastSchema,
  HandshakeAcknowledgementSchema,
  HandshakeSchema,
  HeartbeatSchema,
  RegisterSchema,
} from './messages.js';
import type { OscpReply } from './routes.js';

/** The flexibility provider's state the capacity provider's messages change. */
export interface InboundState {
  acknowledged: boolean;
  /** When the capacity provider said it would count as offline without a further heartbeat. */
  cpOfflineAt: number | undefined;
  /** Heartbeat interval the capacity provider asked for, s. */
  cpHeartbeatS: number;
  readonly forecasts: Forecasts;
}

export interface InboundOptions {
  readonly groupId: string;
  readonly voltageV: number;
  readonly source: string;
  readonly state: InboundState;
  readonly metrics: GridMetrics;
  readonly log: Logger;
  readonly now: () => number;
  /** Answer a Handshake (asynchronously, after our 204). */
  readonly acknowledgeHandshake: () => void;
  /** The capacity provider spoke. */
  readonly heard: () => void;
  /** Put the forecasts in force (offline: their FALLBACK_* blocks). */
  readonly applyForecasts: (offline: boolean) => void;
}

const NO_CONTENT: OscpReply = { status: 204 };

/**
 * One message from the capacity provider, validated field by field; a
 * refused message names the field, is counted, and changes nothing.
 */
export function createInbound(o: InboundOptions): (message: string, body: unknown) => OscpReply {
  const { state, metrics, log } = o;
  const reject = (msg: string, issues: z.core.$ZodIssue[]): OscpReply => {
    const field = issues[0]?.path.map(String).join('.') || '(root)';
    metrics.rejected.inc({ source: o.source, field: `${msg}.${field}` });
    log.warn({ message: msg, field, err: issues[0]?.message }, `OSCP ${msg} rejected: ${field}: ${issues[0]?.message}`);
    return { status: 400, error: `${field}: ${issues[0]?.message}` };
  };
  const offlineAt = (now: number) => state.cpOfflineAt !== undefined && now > state.cpOfflineAt;

  return (msg, body) => {
    const now = o.now();
    switch (msg) {
      case 'register': {
        // A capacity provider that (re-)registers with us; we already know its URL from config.
        const r = RegisterSchema.safeParse(body);
        return r.success ? NO_CONTENT : reject(msg, r.error.issues);
      }
      case 'handshake': {
        const r = HandshakeSchema.safeParse(body);
        if (!r.success) return reject(msg, r.error.issues);
        if (r.data.required_behaviour.heartbeat_interval)
          state.cpHeartbeatS = r.data.required_behaviour.heartbeat_interval;
        o.acknowledgeHandshake();
        return NO_CONTENT;
      }
      case 'handshake_acknowledgement': {
        const r = HandshakeAcknowledgementSchema.safeParse(body);
        if (!r.success) return reject(msg, r.error.issues);
        state.acknowledged = true;
        if (r.data.required_behaviour?.heartbeat_interval)
          state.cpHeartbeatS = r.data.required_behaviour.heartbeat_interval;
        return NO_CONTENT;
      }
      case 'heartbeat': {
        const r = HeartbeatSchema.safeParse(body);
        if (!r.success) return reject(msg, r.error.issues);
        const wasOffline = offlineAt(now);
        state.cpOfflineAt = Date.parse(r.data.offline_mode_at);
        o.heard();
        if (wasOffline) o.applyForecasts(false);
        return NO_CONTENT;
      }
      case 'update_group_capacity_forecast': {
        const r = GroupCapacityForecastSchema.safeParse(body);
        if (!r.success) return reject(msg, r.error.issues);
        if (r.data.group_id !== o.groupId) {
          metrics.rejected.inc({ source: o.source, field: `${msg}.group_id` });
          log.warn({ groupId: r.data.group_id }, 'OSCP forecast for an unknown group_id rejected');
          return { status: 400 };
        }
        const bad = r.data.forecasted_blocks.findIndex(
          (b) => Date.parse(b.end_time) <= Date.parse(b.start_time) || blockToW(b, o.voltageV) === undefined,
        );
        if (bad >= 0) {
          metrics.rejected.inc({ source: o.source, field: `${msg}.forecasted_blocks` });
          log.warn(
            { index: bad },
            `OSCP forecast rejected: forecasted_blocks[${bad}] has no power capacity or no duration`,
          );
          return { status: 400 };
        }
        state.forecasts[r.data.type] = r.data;
        for (const _ of r.data.forecasted_blocks) metrics.accepted.inc({ source: o.source, kind: r.data.type });
        log.info({ type: r.data.type, blocks: r.data.forecasted_blocks.length }, 'OSCP capacity forecast received');
        o.applyForecasts(offlineAt(now));
        return NO_CONTENT;
      }
      case 'group_capacity_compliance_error':
        return NO_CONTENT;
      default:
        return { status: 404 };
    }
  };
}
