import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { GatewayContext } from '../../context.js';
import { reading, zodPlugin } from './deps.js';
import { type StateExtras, StateSchema, type StateView } from './state.js';
import { noneMatch, StateDocument } from './state-document.js';

/** `GET /api/v1/state`, the site's live state, with a weak ETag and 304 for a client whose copy is current. */
export function stateRoutes(ctx: GatewayContext, extras: StateExtras = {}): FastifyPluginAsync {
  const doc = new StateDocument(ctx, extras);
  return zodPlugin((r) => {
    r.get(
      '/api/v1/state',
      reading('site', {
        summary: 'Live state of the site: power flow, limits, every EVSE with its set-point and why',
        description:
          'Sent with a weak ETag naming what the document says apart from its `ts`. A client that polls may send it ' +
          'back in `If-None-Match`: while nothing else changed the answer is 304 without a body.',
        response: {
          200: StateSchema,
          304: {
            description: 'Not modified: the site is as the ETag in If-None-Match says (only `ts` would differ)',
            headers: { etag: { type: 'string', description: 'The same weak entity tag' } },
            type: 'null',
          },
        },
      }),
      // Bytes, not an object: fastify pipes a stream as it is. The document is StateSchema's (StateDocument;
      // test/api/state-json.test.ts holds it equal to buildState), the type provider only knows objects.
      // A stream of the kept pieces, not one Buffer: the large pieces go to the socket without a copy.
      async (req, reply) => {
        const body = doc.body();
        // Browsers would revalidate on their own and hand the page an old `ts`: only a client that asks gets 304.
        reply.header('etag', body.etag).header('cache-control', 'no-store');
        if (noneMatch(req.headers['if-none-match'], body.etag)) return reply.code(304).send();
        return reply
          .type('application/json; charset=utf-8')
          .header('content-length', body.length)
          .send(Readable.from(body.chunks, { objectMode: false }) as unknown as StateView);
      },
    );
  });
}
