import type { FastifyPluginAsync } from 'fastify';
import { reading, zodPlugin } from './deps.js';

/** A 16×16 PNG-in-ICO (teal tile, yellow bolt): browsers ask for it on every page; a 404 only fills logs. */
const FAVICON = Buffer.from(
  'AAABAAEAEBAAAAEAIAB9AAAAFgAAAIlQTkcNChoKAAAADUlIRFIAAAAQAAAAEAgGAAAAH/P/YQAAAERJREFUeNpjYKAG4C/L+08Opp8Bv86IomCSDEDXTLEBJHkBn+1kGUBSIBKynWQDSIpGYmwnyQCSEhKxttM3KRM0gBIAALpdpiCh6uQ8AAAAAElFTkSuQmCC',
  'base64',
);

export function faviconRoutes(): FastifyPluginAsync {
  return zodPlugin((r) => {
    r.get(
      '/favicon.ico',
      reading(
        'ops',
        {
          summary: 'The gateway icon (image/x-icon)',
          produces: ['image/x-icon'],
        },
        'public',
      ),
      async (_req, reply) => reply.type('image/x-icon').header('cache-control', 'public, max-age=86400').send(FAVICON),
    );
  });
}
