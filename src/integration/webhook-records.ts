/** The webhook outbox's rows and what the API shows of them. */

export interface WebhookSubscription {
  readonly id: string;
  readonly url: string;
  readonly events: readonly string[];
  readonly source: 'api' | 'config';
  readonly createdAt: number;
}

export interface WebhookStats {
  readonly pending: number;
  readonly delivered: number;
  readonly dead: number;
  readonly lastError: string | null;
  readonly lastDeliveredAt: number | null;
}

export interface DeliveryRecord {
  readonly seq: number;
  readonly eventId: number;
  readonly type: string;
  readonly state: 'pending' | 'delivered' | 'dead';
  readonly attempts: number;
  readonly createdAt: number;
  readonly nextAt: number;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly doneAt: number | null;
}

export interface SubRow {
  id: string;
  url: string;
  events_json: string;
  secret: string;
  source: 'api' | 'config';
  created_at: number;
}

export interface OutboxRow {
  seq: number;
  sub_id: string;
  event_id: number;
  type: string;
  body: string;
  created_at: number;
  attempts: number;
  next_at: number;
  state: DeliveryRecord['state'];
  last_status: number | null;
  last_error: string | null;
  done_at: number | null;
}

/** A row as the API's delivery log shows it. */
export function toRecord(r: OutboxRow): DeliveryRecord {
  return {
    seq: r.seq,
    eventId: r.event_id,
    type: r.type,
    state: r.state,
    attempts: r.attempts,
    createdAt: r.created_at,
    nextAt: r.next_at,
    lastStatus: r.last_status,
    lastError: r.last_error,
    doneAt: r.done_at,
  };
}
