/** One row of the OCPP outbox as stored and as the adapter reads it. */
import type { OcppProtocol } from './rpc/protocol.js';

export type OutboxStatus = 'pending' | 'done' | 'poison';

export interface OutboxRow {
  readonly seq: number;
  readonly chargerId: string;
  readonly msgId: string;
  readonly protocol: OcppProtocol;
  readonly action: string;
  readonly payload: Record<string, unknown>;
  readonly createdAt: number;
  /** Queued while the CMS was unreachable (2.x: sets the `offline` flag on replay). */
  readonly offline: boolean;
  /** 1.6: transaction id the gateway gave the charger for a StartTransaction answered locally. */
  readonly localTxId?: number;
  readonly sessionId?: string;
  readonly status: OutboxStatus;
  readonly attempts: number;
  readonly lastError?: string;
  readonly response?: unknown;
  /** Recognises a charger's repeat of this message under a new message id (see `repeats.ts`). */
  readonly contentKey?: string;
}

export interface RawRow {
  seq: number;
  charger_id: string;
  msg_id: string;
  protocol: string;
  action: string;
  payload: string;
  created_at: number;
  offline: number;
  local_tx_id: number | null;
  session_id: string | null;
  status: string;
  attempts: number;
  last_error: string | null;
  response: string | null;
  content_key: string | null;
}

export function fromRaw(r: RawRow): OutboxRow {
  return {
    seq: r.seq,
    chargerId: r.charger_id,
    msgId: r.msg_id,
    protocol: r.protocol as OcppProtocol,
    action: r.action,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    createdAt: r.created_at,
    offline: r.offline === 1,
    ...(r.local_tx_id !== null ? { localTxId: r.local_tx_id } : {}),
    ...(r.session_id !== null ? { sessionId: r.session_id } : {}),
    status: r.status as OutboxStatus,
    attempts: r.attempts,
    ...(r.last_error !== null ? { lastError: r.last_error } : {}),
    ...(r.response !== null ? { response: JSON.parse(r.response) as unknown } : {}),
    ...(r.content_key !== null ? { contentKey: r.content_key } : {}),
  };
}
