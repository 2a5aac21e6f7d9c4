import type { z } from 'zod';
import type { Clock } from '../../src/model/clock.js';
import type { Logger } from '../../src/util/logger.js';
import { ClientCredentialResponseSchema } from './schemas.js';

export class OadrHttpError extends Error {
  constructor(
    readonly status: number,
    readonly path: string,
    detail: string,
  ) {
    super(`${path}: HTTP ${status}${detail ? ` ${detail}` : ''}`);
    this.name = 'OadrHttpError';
  }
}

export interface OadrClientOptions {
  readonly baseUrl: string;
  readonly tokenUrl?: string;
  readonly clientId?: string;
  readonly clientSecret?: string;
  readonly timeoutMs: number;
  readonly clock: Clock;
  readonly log: Logger;
  /** Every response's `Date` header, to measure clock skew. */
  readonly onServerDate?: (serverMs: number, localMs: number) => void;
}

/**
 * REST+JSON client of a VTN on Node's fetch, with OAuth2 client-credentials:
 * the token is cached until shortly before `expires_in` (on the injected
 * clock) and fetched again once on a 401.
 */
export class OadrClient {
  private token?: { value: string; expiresAt: number };
  private pendingToken?: Promise<string>;
  tokenFetches = 0;

  constructor(private readonly opts: OadrClientOptions) {}

  private url(path: string): string {
    return `${this.opts.baseUrl.replace(/\/+$/, '')}${path}`;
  }

  private async fetchToken(): Promise<string> {
    const { clientId, clientSecret } = this.opts;
    if (!clientId || !clientSecret) throw new Error('OpenADR client id/secret not configured');
    const tokenUrl = this.opts.tokenUrl ?? this.url('/auth/token');
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
    });
    const res = await fetch(tokenUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        // RFC 6749 prefers HTTP Basic for client authentication; the OpenADR spec puts them in the body. Send both.
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
      },
      body,
      signal: AbortSignal.timeout(this.opts.timeoutMs),
    });
    this.noteDate(res);
    if (!res.ok) throw new OadrHttpError(res.status, '/auth/token', await safeText(res));
    const parsed = ClientCredentialResponseSchema.safeParse(await res.json());
    if (!parsed.success) {
      throw new Error(`token response invalid at ${parsed.error.issues[0]?.path.join('.') || '(root)'}`);
    }
    this.tokenFetches++;
    const ttlMs = (parsed.data.expires_in ?? 3600) * 1000;
    // Refresh a little early (10 % of the lifetime, at most 30 s) so a request never leaves with a dying token.
    this.token = {
      value: parsed.data.access_token,
      expiresAt: this.opts.clock.now() + ttlMs - Math.min(30_000, ttlMs * 0.1),
    };
    return this.token.value;
  }

  private async bearer(): Promise<string> {
    if (this.token && this.opts.clock.now() < this.token.expiresAt) return this.token.value;
    // Concurrent requests (poll, report, callback) share one token request.
    this.pendingToken ??= this.fetchToken().finally(() => {
      this.pendingToken = undefined;
    });
    return this.pendingToken;
  }

  private noteDate(res: Response): void {
    const date = res.headers.get('date');
    if (date && this.opts.onServerDate) {
      const t = Date.parse(date);
      if (!Number.isNaN(t)) this.opts.onServerDate(t, this.opts.clock.now());
    }
  }

  /** One request; on 401 the token is fetched again and the request retried once. */
  async request<S extends z.ZodType>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    schema: S,
    body?: unknown,
  ): Promise<z.infer<S>> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.bearer();
      const res = await fetch(this.url(path), {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      this.noteDate(res);
      if (res.status === 401 && attempt === 0) {
        this.token = undefined;
        this.opts.log.info({ path }, 'OpenADR token refused; fetching a new one');
        await res.body?.cancel();
        continue;
      }
      if (!res.ok) throw new OadrHttpError(res.status, path, await safeText(res));
      const text = await res.text();
      const json: unknown = text ? JSON.parse(text) : null;
      const parsed = schema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new Error(
          `${method} ${path}: response invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
        );
      }
      return parsed.data;
    }
  }

  /** Drop the cached token (tests; a VTN that rotated its keys). */
  forgetToken(): void {
    this.token = undefined;
  }
}

async function safeText(res: Response): Promise<string> {
  try {
    return (await res.text()).slice(0, 200);
  } catch {
    return '';
  }
}

/** An error's message with its cause (fetch wraps the network error in `cause`). */
export function errText(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}
