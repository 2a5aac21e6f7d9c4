import type { FastifyInstance } from 'fastify';
import type { PeerRouteConfig } from '../../src/ports/http.js';

const PEER: PeerRouteConfig = { auth: 'peer' };

export interface CallbackRouteOptions {
  /** Path of the endpoint on the gateway's server, e.g. `/openadr/callback`. */
  readonly path: string;
  /** Handles one notification; returns the HTTP status (403 on a wrong bearer token). */
  readonly handle: (body: unknown, authorization?: string) => number;
}

/**
 * The VEN's subscription callback as a fastify plugin on the gateway's API
 * server. The VTN authenticates with the bearer token given in the
 * subscription, not with an API key: the route is a `peer` route the API's
 * key check leaves alone, and the VEN checks the token itself. The body is taken raw and
 * parsed here: a notification that is not JSON is the VEN's 400 (counted
 * and logged there), not the API's problem document.
 */
export async function callbackRoutes(app: FastifyInstance, opts: CallbackRouteOptions): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.post(opts.path, { config: PEER, schema: { hide: true } }, async (req, reply) => {
    let body: unknown;
    try {
      body = typeof req.body === 'string' && req.body !== '' ? JSON.parse(req.body) : undefined;
    } catch {
      body = undefined;
    }
    return reply.code(opts.handle(body, req.headers.authorization)).send();
  });
}
