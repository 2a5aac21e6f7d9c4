import type {} from '@fastify/websocket';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { EVENT_TYPES } from '../../integration/events.js';
import type { LiveStreams } from '../live.js';
import { reading, zodPlugin } from './deps.js';

export const EVENT_PATTERN = /^(\*|[a-z]+(\.[a-z]+)*(\.\*)?)$/;

const Types = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(EVENT_PATTERN, 'event type or pattern like session.*')))
  .describe(
    `Comma-separated event types or patterns (e.g. \`session.*,alert.raised\`). Types: ${EVENT_TYPES.join(', ')}`,
  );

const LiveQuery = z
  .object({
    types: Types.optional(),
    lastEventId: z.coerce
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe('Resume after this event id (same as the Last-Event-ID header)'),
  })
  .strict();

const LastEventIdHeader = z
  .object({ 'last-event-id': z.coerce.number().int().nonnegative().optional() })
  .describe('Standard SSE resume header');

export function eventRoutes(live: LiveStreams): FastifyPluginAsync {
  return zodPlugin((r) => {
    r.get(
      '/api/v1/events',
      reading('events', {
        summary: 'Live events as Server-Sent Events (resumable with Last-Event-ID)',
        description:
          'Each event is `id: <monotonic id>`, `event: <type>`, `data: {"type","timestamp","data"}`. ' +
          'A client that reconnects with Last-Event-ID receives every retained event after it; when ' +
          'some were no longer retained an `event: gap` tells so. A client that reads too slowly is ' +
          'sent `event: overflow` with `resumeAfter` and disconnected.',
        querystring: LiveQuery,
        headers: LastEventIdHeader,
        produces: ['text/event-stream'],
        response: { 200: z.string().describe('text/event-stream') },
      }),
      async (req, reply) => {
        // Validated by the headers schema; fastify keeps the raw string in req.headers.
        const header = req.headers['last-event-id'];
        const after = typeof header === 'string' && header !== '' ? Number(header) : req.query.lastEventId;
        reply.hijack();
        reply.raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        reply.raw.write('retry: 2000\n\n');
        live.addSse(reply.raw, req.query.types, after);
      },
    );
    r.get(
      '/api/v1/ws',
      {
        websocket: true,
        schema: {
          tags: ['events'],
          summary: 'Live events over WebSocket (upgrade); messages are {id, type, timestamp, data}',
          description:
            'Same events and filters as /api/v1/events; resume with `?lastEventId=`. A slow client gets ' +
            '`{"type":"overflow","resumeAfter":n}` and close code 1013.',
          querystring: LiveQuery,
        },
      },
      (socket, req) => {
        const q = req.query as z.output<typeof LiveQuery>;
        live.addWs(socket, q.types, q.lastEventId);
      },
    );
  });
}
