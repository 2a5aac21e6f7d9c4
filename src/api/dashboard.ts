import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { notFound } from './problem.js';
import type { ZodTypeProvider } from './schema.js';

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
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

/** Plain HTML/CSS/JS, no build step: the page reads the same public API as any partner. */
export function dashboardRoutes(): FastifyPluginAsync {
  return async (app) => {
    const dir = dashboardDir();
    const files = new Map(Object.keys(FILES).map((f) => [f, readFileSync(`${dir}${f}`)]));
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
