import type {
  FastifyBaseLogger,
  FastifyPluginAsync,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import { z } from 'zod';
import type { GatewayContext } from '../../context.js';
import type { Integration } from '../../integration/index.js';
import type { RouteAuth } from '../auth.js';
import type { ApiProviders } from '../providers.js';
import { problems } from '../documented-errors.js';
import { notFound } from '../problem.js';
import { TimeParam, type ZodTypeProvider } from '../schema.js';

export interface RouteDeps {
  readonly ctx: GatewayContext;
  readonly integration: Integration;
  readonly providers: ApiProviders;
  /** When a device outside the process image (a sub-metered load) last sent a reading. */
  readonly heard?: (deviceId: string) => number | undefined;
}

export const DAY_MS = 86_400_000;

export const iso = (ms: number | undefined | null): string | null =>
  ms === undefined || ms === null ? null : new Date(ms).toISOString();

/** `from` / `to` with the rule that `to` comes after `from`. */
export function rangeQuery<T extends z.ZodRawShape>(extra: T, maxSpanMs?: number) {
  return z
    .object({ from: TimeParam.optional(), to: TimeParam.optional(), ...extra })
    .strict()
    .superRefine((q, c) => {
      const { from, to } = q as { from?: number; to?: number };
      if (from !== undefined && to !== undefined) {
        if (to <= from) c.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
        else if (maxSpanMs !== undefined && to - from > maxSpanMs)
          c.addIssue({ code: 'custom', path: ['to'], message: `range longer than ${maxSpanMs / 86_400_000} days` });
      }
    });
}

export const Paging = {
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
};

export function paged<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    limit: z.number().int(),
    offset: z.number().int(),
    nextOffset: z.number().int().nullable().describe('Offset of the next page; null on the last page'),
  });
}

/**
 * Route options of an operator command: it needs the `control` scope, is written to the audit log
 * under `name`, and is listed under `commands` beside its resource's tag in the OpenAPI document.
 */
export function command<S extends object>(name: string, tag: string, schema: S, auth: 'control' | 'admin' = 'control') {
  return { config: { auth, command: name }, schema: { tags: [tag, 'commands'], ...schema } };
}

/** Route options of a read under `tag` (scope `read` unless given): the one shape every GET shares. */
export function reading<S extends object>(tag: string | string[], schema: S, auth: RouteAuth = 'read') {
  return { config: { auth }, schema: { tags: Array.isArray(tag) ? tag : [tag], ...schema } };
}

export const IdParam = z.object({ id: z.string().min(1).max(128) }).strict();

export const CommandResultSchema = z.object({
  status: z.enum(['Accepted', 'Rejected', 'Unknown']),
  detail: z.string().optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});

/** The item, or a 404 `no <noun> <id>` when there is none. */
export function found<T>(item: T | undefined, noun: string, id: string): T {
  if (!item) throw notFound(`no ${noun} ${id}`);
  return item;
}

/** The app as the route plugins use it: schemas are zod. */
export type ZodApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/**
 * `GET <path>` with an `:id`: the item as `view` shows it, or 404 `no <noun> <id>`.
 * `view` is checked against `response` here, as fastify cannot resolve a generic schema.
 */
export function getById<T, R extends z.ZodType>(
  r: ZodApp,
  path: string,
  o: {
    tag: string;
    noun: string;
    response: R;
    find: (id: string) => T | undefined;
    view: (item: T) => z.input<R>;
    auth?: RouteAuth;
  },
): void {
  r.get(
    path,
    reading(o.tag, { summary: `One ${o.noun}`, params: IdParam, response: { 200: o.response as z.ZodType } }, o.auth),
    async (req) => {
      return o.view(found(o.find(req.params.id), o.noun, req.params.id));
    },
  );
}

/** A route plugin whose routes take zod schemas: `zodPlugin((r) => { r.get(...) })`. */
export function zodPlugin(register: (r: ZodApp) => void): FastifyPluginAsync {
  return async (app) => register(app.withTypeProvider<ZodTypeProvider>());
}

/** `GET <path>`: every item `list` gives, checked against `response` (the lists are small: no paging). */
export function listing<R extends z.ZodType>(
  r: ZodApp,
  path: string,
  o: {
    tag: string;
    summary: string;
    response: R;
    list: () => z.input<R>[];
    auth?: RouteAuth;
    /** Answers only the handler gives (e.g. 503 when a provider is not wired). */
    problems?: number[];
  },
): void {
  const response = { 200: z.array(o.response), ...problems(...(o.problems ?? [])) };
  r.get(path, reading(o.tag, { summary: o.summary, response }, o.auth), async () => o.list());
}

/**
 * A read-only collection: `GET <path>` lists every item, `GET <path>/:id` shows one or answers
 * 404 `no <noun> <id>`, both shown through `view`.
 */
export function collection<T, R extends z.ZodType>(
  r: ZodApp,
  path: string,
  o: {
    tag: string;
    noun: string;
    summary: string;
    response: R;
    list: () => readonly T[];
    find: (id: string) => T | undefined;
    view: (item: T) => z.input<R>;
    auth?: RouteAuth;
  },
): void {
  listing(r, path, { ...o, list: () => o.list().map(o.view) });
  getById(r, `${path}/:id`, o);
}
