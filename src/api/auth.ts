import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PROBLEM_TYPES, ProblemError, problem } from './problem.js';

export const SCOPES = ['read', 'control', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Who made a request: a key's id and name, or `anonymous`. */
export interface Principal {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
}

/** Looks a presented key up (hashed store, config, environment). */
export interface KeyVerifier {
  verify(key: string): Principal | undefined;
}

/**
 * `peer`: a protocol peer's endpoint mounted on the API server (OSCP, the
 * OpenADR callback) that authenticates its caller itself; its
 * `Authorization` header is the peer's token, not an API key.
 */
export type RouteAuth = Scope | 'public' | 'peer';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Scope a caller needs; `public` routes need no key, `peer` routes check their own token. Default `read`. */
    auth?: RouteAuth;
    /** Name of the command a route carries out; such requests are written to the audit log. */
    command?: string;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** Scopes are ordered: admin implies control implies read. */
export function hasScope(p: Principal, needed: Scope): boolean {
  const rank = (s: Scope) => SCOPES.indexOf(s);
  return p.scopes.some((s) => rank(s) >= rank(needed));
}

export const ANONYMOUS: Principal = { id: 'anonymous', name: 'anonymous', scopes: [] };

function presentedKey(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (h) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    return m ? m[1] : '';
  }
  // EventSource and WebSocket clients in browsers cannot set headers.
  const q = req.query as Record<string, unknown> | undefined;
  if (req.method === 'GET' && typeof q?.access_token === 'string') return q.access_token;
  return undefined;
}

export interface AuthOptions {
  readonly verifier?: KeyVerifier;
  readonly anonymousRead: boolean;
  /** Failed key checks a client may make per window before it is told to wait (429). */
  readonly failedAuth?: { readonly max: number; readonly windowMs: number };
}

/** 10 wrong keys a minute is generous for a person and useless for guessing a 32-character key. */
export const FAILED_AUTH_DEFAULT = { max: 10, windowMs: 60_000 } as const;

function tooManyFailures(retryAfterS: number): ProblemError {
  return new ProblemError(
    problem(429, {
      type: PROBLEM_TYPES.tooManyRequests,
      detail: `too many failed authentication attempts; retry in ${retryAfterS} s`,
      retryAfterS,
    }),
  );
}

/**
 * Bearer-key authentication and scope checks for every route. Wrong keys are counted per client
 * address (@fastify/rate-limit's store); past the limit the client gets 429 with Retry-After for
 * any key, right or wrong, until the window ends, so guessing gains nothing by speed.
 */
export async function installAuth(app: FastifyInstance, opts: AuthOptions): Promise<void> {
  const throttle = opts.failedAuth ?? FAILED_AUTH_DEFAULT;
  await app.register(rateLimit, { global: false });
  const failures = app.createRateLimit({
    max: throttle.max,
    timeWindow: throttle.windowMs,
    keyGenerator: (req) => req.ip,
  });
  const refuseIfThrottled = (r: Awaited<ReturnType<typeof failures>>) => {
    if (!r.isAllowed && r.isExceeded) throw tooManyFailures(Math.max(1, r.ttlInSeconds));
  };
  app.addHook('onRequest', async (req) => {
    // The reference docs (swagger-ui and its assets) describe the public document: no key needed.
    const needed = req.routeOptions.url?.startsWith('/docs') ? 'public' : (req.routeOptions.config?.auth ?? 'read');
    if (needed === 'peer') return;
    const key = presentedKey(req);
    if (key !== undefined) {
      refuseIfThrottled(await failures(req, { increment: false }));
      const principal = key ? opts.verifier?.verify(key) : undefined;
      if (!principal) {
        refuseIfThrottled(await failures(req));
        throw new ProblemError(
          problem(401, { type: PROBLEM_TYPES.unauthorized, detail: 'unknown or revoked API key' }),
        );
      }
      req.principal = principal;
    } else {
      req.principal = ANONYMOUS;
    }
    if (needed === 'public') return;
    const p = req.principal;
    if (p === ANONYMOUS) {
      if (needed === 'read' && opts.anonymousRead) return;
      throw new ProblemError(
        problem(401, {
          type: PROBLEM_TYPES.unauthorized,
          detail: 'an API key is required: Authorization: Bearer <key>',
        }),
      );
    }
    if (!hasScope(p, needed)) {
      throw new ProblemError(
        problem(403, { type: PROBLEM_TYPES.forbidden, detail: `this key lacks the "${needed}" scope` }),
      );
    }
  });
}
