import { Webhook } from 'standardwebhooks';
import type { Clock } from '../../src/model/clock.js';
import type { AuthoriserClient, AuthoriseRequest, RemoteAuthorisation } from '../../src/ports/authoriser.js';
import type { AuthoriserConfig } from '../../src/ports/config.js';

const STATUSES: ReadonlySet<string> = new Set(['Accepted', 'Blocked', 'Expired', 'Invalid']);

/**
 * The external authoriser over HTTP: POST `{type: 'authorise.request',
 * timestamp, data: {idTag, chargerId, connectorId}}`, signed like a webhook
 * (Standard Webhooks headers) when a secret is configured, answered with
 * `{status, vehicleId?}`. Anything else (timeout, non-2xx, no valid status)
 * rejects, so the integration layer's fallback answers instead.
 */
export function createHttpAuthoriserClient(
  config: Pick<AuthoriserConfig, 'url' | 'secret' | 'timeoutMs'>,
  deps: { readonly clock: Clock },
): AuthoriserClient {
  const signer = config.secret ? new Webhook(config.secret) : undefined;
  let seq = 0;
  return {
    async ask(req: AuthoriseRequest): Promise<RemoteAuthorisation> {
      const ts = deps.clock.now();
      const body = JSON.stringify({
        type: 'authorise.request',
        timestamp: new Date(ts).toISOString(),
        data: { idTag: req.idTag, chargerId: req.chargerId, connectorId: req.connectorId ?? null },
      });
      const msgId = `auth_${ts}_${++seq}`;
      const headers: Record<string, string> = { 'content-type': 'application/json', 'webhook-id': msgId };
      if (signer) {
        headers['webhook-timestamp'] = String(Math.floor(ts / 1000));
        headers['webhook-signature'] = signer.sign(msgId, new Date(ts), body);
      }
      const res = await fetch(config.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(config.timeoutMs),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const json = (await res.json()) as { status?: unknown; vehicleId?: unknown };
      if (typeof json.status !== 'string' || !STATUSES.has(json.status))
        throw new Error('answer without a valid status');
      return {
        status: json.status as RemoteAuthorisation['status'],
        ...(typeof json.vehicleId === 'string' ? { vehicleId: json.vehicleId } : {}),
      };
    },
  };
}
