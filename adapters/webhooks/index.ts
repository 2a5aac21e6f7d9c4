import { Webhook } from 'standardwebhooks';
import type { WebhookAttempt, WebhookMessage, WebhookSender } from '../../src/ports/webhooks.js';

export interface HttpWebhookSenderOptions {
  /** Longest one attempt may take, ms. */
  readonly timeoutMs: number;
}

/**
 * Webhook delivery over HTTP per the Standard Webhooks convention: POST of
 * the JSON body with `webhook-id`, `webhook-timestamp` and
 * `webhook-signature` (HMAC-SHA256 with the subscription's secret).
 * Redirects are not followed: a receiver that moved must be re-registered,
 * the signed body never goes to an address nobody subscribed.
 */
export function createHttpWebhookSender(opts: HttpWebhookSenderOptions): WebhookSender {
  // One signer per secret: parsing the secret once, not per attempt.
  const signers = new Map<string, Webhook>();
  const signerFor = (secret: string): Webhook => {
    let s = signers.get(secret);
    if (!s) {
      s = new Webhook(secret);
      signers.set(secret, s);
    }
    return s;
  };
  return {
    async send(m: WebhookMessage, signal: AbortSignal): Promise<WebhookAttempt> {
      try {
        const res = await fetch(m.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'gridkeeper-webhooks/1',
            'webhook-id': m.msgId,
            'webhook-timestamp': String(Math.floor(m.timestamp / 1000)),
            'webhook-signature': signerFor(m.secret).sign(m.msgId, new Date(m.timestamp), m.body),
          },
          body: m.body,
          redirect: 'manual',
          signal: AbortSignal.any([AbortSignal.timeout(opts.timeoutMs), signal]),
        });
        await res.arrayBuffer().catch(() => undefined);
        const ok = res.status >= 200 && res.status < 300;
        return { status: res.status, error: ok ? null : `HTTP ${res.status}` };
      } catch (err) {
        const error =
          err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
        return { status: null, error };
      }
    },
  };
}
