import type { FastifyInstance } from 'fastify';

/**
 * Endpoints an adapter serves to its protocol peer (the VTN's subscription
 * callback, the OSCP capacity provider's messages) on the gateway's one
 * HTTP server. The composition root registers them on the API server as
 * encapsulated fastify plugins; the adapter keeps its own authentication.
 */
export interface PeerRoutes {
  routes(app: FastifyInstance): Promise<void>;
}

/**
 * The route config a peer endpoint sets: the API-key check leaves it (and
 * its `Authorization` header, which carries the peer's token) alone, and
 * the adapter checks the peer's token itself.
 */
export interface PeerRouteConfig {
  readonly auth: 'peer';
}
