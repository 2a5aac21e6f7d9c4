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
}

/** Bearer-key authentication and scope checks for every route. */
export function installAuth(app: FastifyInstance, opts: AuthOptions): void {
  app.addHook('onRequest', async (req) => {
    // The reference docs (swagger-ui and its assets) describe the public document: no key needed.
    const needed = req.routeOptions.url?.startsWith('/docs') ? 'public' : (req.routeOptions.config?.auth ?? 'read');
    if (needed === 'peer') return;
    const key = presentedKey(req);
    if (key !== undefined) {
      const principal = key ? opts.verifier?.verify(key) : undefined;
      if (!principal) {
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
