/**
 * One attempt to deliver one outbox entry to a subscriber. The durable
 * outbox (order, retries, dead letters) is the integration layer's; how the
 * entry travels (HTTP, signing) is the sender adapter's.
 */
export interface WebhookMessage {
  readonly url: string;
  /** The subscription's `whsec_` secret the message is signed with. */
  readonly secret: string;
  /** Stable id of the event (the receiver deduplicates by it). */
  readonly msgId: string;
  /** When the attempt is made, epoch ms (signed with the message). */
  readonly timestamp: number;
  /** JSON text of `{type, timestamp, data}`. */
  readonly body: string;
}

/** The outcome of one attempt: a 2xx status and no error is a delivery. */
export interface WebhookAttempt {
  /** HTTP status when the receiver answered. */
  readonly status: number | null;
  /** Why it failed (status, timeout, connection); null on success. */
  readonly error: string | null;
}

export interface WebhookSender {
  /** Never rejects: every failure is an attempt with an error. `signal` aborts on shutdown. */
  send(message: WebhookMessage, signal: AbortSignal): Promise<WebhookAttempt>;
}
