import type { FastifyInstance } from 'fastify';
import type { PeerRouteConfig } from '../../src/ports/http.js';

const PEER: PeerRouteConfig = { auth: 'peer' };

/** What the flexibility provider answers to one message: a status and, for a refusal, why. */
export interface OscpReply {
  readonly status: number;
  readonly error?: string;
}

export interface OscpRouteOptions {
  /** Path prefix of our endpoints, e.g. `/oscp/fp/2.0`. */
  readonly path: string;
  /** Token the capacity provider presents (`Authorization: Token <token>`). */
  readonly token: string;
  /** Handles one message (`register`, `heartbeat`, ...); body undefined when it was not JSON. */
  readonly handle: (message: string, body: unknown) => OscpReply;
  /** A body that is not JSON (counted and logged by the adapter). */
  readonly notJson: () => void;
  readonly onError: (err: Error) => void;
}

/**
 * The OSCP endpoints as a fastify plugin on the gateway's API server. The
 * capacity provider authenticates with the OSCP token, not an API key: the
 * routes are `peer` routes the API's key check leaves alone, checked here. Bodies are
 * taken raw and parsed here, so a malformed message is OSCP's 400 (counted
 * by the adapter), never the API's problem document.
 */
export async function oscpRoutes(app: FastifyInstance, opts: OscpRouteOptions): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.post<{ Params: { message: string } }>(
    `${opts.path}/:message`,
    { config: PEER, schema: { hide: true } },
    async (req, reply) => {
      if (req.headers.authorization !== `Token ${opts.token}`) return reply.code(401).send();
      let body: unknown;
      try {
        body = typeof req.body === 'string' && req.body !== '' ? JSON.parse(req.body) : {};
      } catch {
        opts.notJson();
        return reply.code(400).send();
      }
      let r: OscpReply;
      try {
        r = opts.handle(req.params.message, body);
      } catch (err) {
        opts.onError(err as Error);
        return reply.code(500).send();
      }
      if (r.error === undefined) return reply.code(r.status).send();
      return reply
        .code(r.status)
        .type('application/json')
        .send(JSON.stringify({ error: r.error }));
    },
  );
}
