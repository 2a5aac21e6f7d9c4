import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { SITE_EVENT_TYPES } from '../integration/events.js';
import { notFound } from './problem.js';
import type { ZodTypeProvider } from './schema.js';

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'charts.css': 'text/css; charset=utf-8',
  'api.js': 'text/javascript; charset=utf-8',
  'fmt.js': 'text/javascript; charset=utf-8',
  'flow.js': 'text/javascript; charset=utf-8',
  'charts.js': 'text/javascript; charset=utf-8',
  'panels.js': 'text/javascript; charset=utf-8',
  'feed.js': 'text/javascript; charset=utf-8',
};

/** The dashboard's files sit next to the sources; a build (dist/) still finds them there. */
function dashboardDir(): string {
  const candidates = [
    new URL('./dashboard/', import.meta.url),
    new URL('../../../src/api/dashboard/', import.meta.url),
  ].map((u) => fileURLToPath(u));
  const dir = candidates.find((d) => existsSync(`${d}index.html`));
  if (!dir) throw new Error(`dashboard files not found in ${candidates.join(' or ')}`);
  return dir;
}

const EVENT_TYPES_SLOT = '<script id="event-types" type="application/json"></script>';

/** The page's list of live event types comes from the server, so the browser script does not repeat it. */
function withEventTypes(html: Buffer | undefined): Buffer {
  const text = html?.toString('utf8') ?? '';
  if (!text.includes(EVENT_TYPES_SLOT)) throw new Error('dashboard index.html has no event-types script');
  const filled = EVENT_TYPES_SLOT.replace('></', `>${JSON.stringify(SITE_EVENT_TYPES)}</`);
  return Buffer.from(text.replace(EVENT_TYPES_SLOT, filled), 'utf8');
}

/** Plain HTML/CSS/JS, no build step: the page reads the same public API as any partner. */
export function dashboardRoutes(): FastifyPluginAsync {
  return async (app) => {
    const dir = dashboardDir();
    const files = new Map<string, Buffer>(Object.keys(FILES).map((f) => [f, readFileSync(`${dir}${f}`)]));
    files.set('index.html', withEventTypes(files.get('index.html')));
    const r = app.withTypeProvider<ZodTypeProvider>();
    const send = (name: string, reply: { type(t: string): unknown; header(k: string, v: string): unknown }) => {
      const body = files.get(name);
      const type = FILES[name];
      if (!body || !type) throw notFound(`no dashboard file ${name}`);
      reply.type(type);
      reply.header('cache-control', 'no-cache');
      return body;
    };
    r.get(
      '/',
      {
        config: { auth: 'public' },
        schema: { tags: ['dashboard'], summary: 'Operator dashboard (HTML)', produces: ['text/html'] },
      },
      async (_req, reply) => send('index.html', reply),
    );
    r.get(
      '/dashboard/:file',
      {
        config: { auth: 'public' },
        schema: {
          tags: ['dashboard'],
          summary: 'Dashboard assets',
          params: z.object({ file: z.enum(Object.keys(FILES) as [string, ...string[]]) }).strict(),
        },
      },
      async (req, reply) => send(req.params.file, reply),
    );
  };
}
