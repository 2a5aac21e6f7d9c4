import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../src/model/clock.js';

/**
 * A small OpenADR 3.0.1 VTN for tests and the demo: OAuth2 client
 * credentials at /auth/token, programs, events (CRUD), VENs and resources,
 * reports (recorded), subscriptions with webhook callbacks. Switchable
 * outage (500/503 or connection refused via stop), expiring tokens and a
 * skewed clock, to exercise the VEN's fault handling.
 */
export interface VtnClient {
  readonly clientId: string;
  readonly clientSecret: string;
  /** `ven` may read events and write reports; `bl` (business logic) may also write programs and events. */
  readonly role?: 'ven' | 'bl';
}

export interface VtnSimOptions {
  readonly port?: number;
  readonly host?: string;
  /** Time of the simulated utility (the test's virtual clock, or a wall clock the caller owns). */
  readonly clock: Clock;
  readonly clients?: readonly VtnClient[];
  readonly tokenTtlS?: number;
  /** Programs created at start (`programName` required). */
  readonly programs?: ReadonlyArray<Record<string, unknown> & { programName: string }>;
  /** The VTN's clock runs this far ahead of `clock` (Date headers and createdDateTime), ms. */
  readonly skewMs?: number;
}

type Obj = Record<string, unknown> & { id: string };

export interface VtnSim {
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** 500/503 on every API call (token endpoint included) until cleared with null. */
  setOutage(code: 500 | 503 | null): void;
  /** Every issued token is refused from now on (401). */
  expireTokens(): void;
  setSkew(ms: number): void;
  createProgram(p: Record<string, unknown> & { programName: string }): Obj;
  createEvent(e: Record<string, unknown>): Obj;
  updateEvent(id: string, e: Record<string, unknown>): Obj;
  deleteEvent(id: string): void;
  /** Put a raw (possibly malformed) object in the event list, as a broken VTN would. */
  injectRawEvent(e: Record<string, unknown> & { id: string }): void;
  readonly programs: ReadonlyMap<string, Obj>;
  readonly events: ReadonlyMap<string, Obj>;
  readonly vens: ReadonlyMap<string, Obj>;
  readonly resources: ReadonlyMap<string, Obj>;
  readonly reports: readonly Obj[];
  readonly subscriptions: ReadonlyMap<string, Obj>;
  readonly stats: { tokenRequests: number; requests: number; notifications: number; notificationErrors: number };
}

export function createVtnSim(opts: VtnSimOptions): VtnSim {
  const { clock } = opts;
  const clients = opts.clients ?? [
    { clientId: 'ven-client', clientSecret: 'ven-secret', role: 'ven' },
    { clientId: 'bl-client', clientSecret: 'bl-secret', role: 'bl' },
  ];
  const tokenTtlS = opts.tokenTtlS ?? 3600;
  let skewMs = opts.skewMs ?? 0;
  let outage: 500 | 503 | null = null;
  const tokens = new Map<string, { clientId: string; role: 'ven' | 'bl'; expiresAt: number }>();
  const programs = new Map<string, Obj>();
  const events = new Map<string, Obj>();
  const vens = new Map<string, Obj>();
  const resources = new Map<string, Obj>();
  const reports: Obj[] = [];
  const subscriptions = new Map<string, Obj>();
  const stats = { tokenRequests: 0, requests: 0, notifications: 0, notificationErrors: 0 };
  let seq = 0;
  let app: FastifyInstance | undefined;
  let url = '';

  const vtnNow = () => clock.now() + skewMs;
  const stamp = () => new Date(vtnNow()).toISOString();
  const newId = (prefix: string) => `${prefix}-${++seq}`;
  /** An object as the VTN stores it: its own id (`<type>-<n>`), type and times. */
  const stored = (objectType: string, body: Record<string, unknown>, extra: Record<string, unknown> = {}): Obj => ({
    ...body,
    ...extra,
    id: newId(objectType.toLowerCase()),
    objectType,
    createdDateTime: stamp(),
    modificationDateTime: stamp(),
  });

  const notify = (objectType: string, operation: string, object: Obj) => {
    const programID = (object['programID'] as string | undefined) ?? undefined;
    for (const sub of subscriptions.values()) {
      if (programID && sub['programID'] !== programID) continue;
      const ops = (sub['objectOperations'] as Array<Record<string, unknown>>) ?? [];
      for (const op of ops) {
        const objects = (op['objects'] as string[]) ?? [];
        const operations = (op['operations'] as string[]) ?? [];
        if (!objects.includes(objectType) || !operations.includes(operation)) continue;
        stats.notifications++;
        const bearer = op['bearerToken'] as string | undefined;
        void fetch(String(op['callbackUrl']), {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
          body: JSON.stringify({ objectType, operation, object }),
          signal: AbortSignal.timeout(2000),
        })
          .then((r) => r.body?.cancel())
          .catch(() => {
            stats.notificationErrors++;
          });
      }
    }
  };

  const createProgram = (p: Record<string, unknown> & { programName: string }): Obj => {
    const o = stored('PROGRAM', p);
    programs.set(o.id, o);
    return o;
  };
  const createEvent = (e: Record<string, unknown>): Obj => {
    const o = stored('EVENT', e);
    events.set(o.id, o);
    notify('EVENT', 'POST', o);
    return o;
  };
  const updateEvent = (id: string, e: Record<string, unknown>): Obj => {
    const prev = events.get(id);
    if (!prev) throw new Error(`no event ${id}`);
    const o: Obj = {
      ...e,
      id,
      objectType: 'EVENT',
      createdDateTime: prev['createdDateTime'],
      modificationDateTime: new Date(
        Math.max(vtnNow(), Date.parse(String(prev['modificationDateTime'])) + 1),
      ).toISOString(),
    };
    events.set(id, o);
    notify('EVENT', 'PUT', o);
    return o;
  };
  const deleteEvent = (id: string) => {
    const prev = events.get(id);
    events.delete(id);
    if (prev) notify('EVENT', 'DELETE', prev);
  };
  for (const p of opts.programs ?? []) createProgram(p);

  const problem = (reply: FastifyReply, status: number, title: string) =>
    reply.code(status).type('application/problem+json').send({ type: 'about:blank', title, status });

  const auth = (req: FastifyRequest, reply: FastifyReply, needBl = false): boolean => {
    const h = req.headers.authorization ?? '';
    const t = h.startsWith('Bearer ') ? tokens.get(h.slice(7)) : undefined;
    if (!t || t.expiresAt <= clock.now()) {
      problem(reply, 401, 'invalid or expired token');
      return false;
    }
    if (needBl && t.role !== 'bl') {
      problem(reply, 403, 'business logic role required');
      return false;
    }
    return true;
  };

  const page = <T>(list: T[], q: Record<string, string | undefined>) => {
    const skip = Number(q['skip'] ?? 0);
    const limit = Number(q['limit'] ?? 50);
    return list.slice(skip, skip + limit);
  };

  function build(): FastifyInstance {
    const f = Fastify({ logger: false });
    f.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(String(body))));
    });
    f.addHook('onRequest', async (_req, reply) => {
      stats.requests++;
      reply.header('date', new Date(vtnNow()).toUTCString());
      if (outage !== null) return problem(reply, outage, 'simulated outage');
    });

    f.post('/auth/token', async (req, reply) => {
      stats.tokenRequests++;
      const body = (req.body ?? {}) as Record<string, string>;
      let id = body['client_id'];
      let secret = body['client_secret'];
      const basic = req.headers.authorization;
      if ((!id || !secret) && basic?.startsWith('Basic ')) {
        const [u, p] = Buffer.from(basic.slice(6), 'base64').toString().split(':');
        id = decodeURIComponent(u ?? '');
        secret = decodeURIComponent(p ?? '');
      }
      if (body['grant_type'] !== 'client_credentials') return reply.code(400).send({ error: 'unsupported_grant_type' });
      const c = clients.find((x) => x.clientId === id && x.clientSecret === secret);
      if (!c) return reply.code(401).send({ error: 'invalid_client' });
      const token = randomBytes(16).toString('hex');
      tokens.set(token, { clientId: c.clientId, role: c.role ?? 'ven', expiresAt: clock.now() + tokenTtlS * 1000 });
      return { access_token: token, token_type: 'Bearer', expires_in: tokenTtlS };
    });

    f.get('/programs', async (req, reply) => {
      if (!auth(req, reply)) return reply;
      return page([...programs.values()], req.query as Record<string, string>);
    });
    f.post('/programs', async (req, reply) => {
      if (!auth(req, reply, true)) return reply;
      const body = req.body as Record<string, unknown>;
      if (typeof body?.['programName'] !== 'string') return problem(reply, 400, 'programName required');
      return reply.code(201).send(createProgram(body as Record<string, unknown> & { programName: string }));
    });

    f.get('/events', async (req, reply) => {
      if (!auth(req, reply)) return reply;
      const q = req.query as Record<string, string>;
      const list = [...events.values()].filter((e) => !q['programID'] || e['programID'] === q['programID']);
      return page(list, q);
    });
    f.get('/events/:id', async (req, reply) => {
      if (!auth(req, reply)) return reply;
      const e = events.get((req.params as { id: string }).id);
      return e ?? problem(reply, 404, 'no such event');
    });
    f.post('/events', async (req, reply) => {
      if (!auth(req, reply, true)) return reply;
      const body = req.body as Record<string, unknown>;
      if (!body || !programs.has(String(body['programID']))) return problem(reply, 400, 'unknown programID');
      return reply.code(201).send(createEvent(body));
    });
    f.put('/events/:id', async (req, reply) => {
      if (!auth(req, reply, true)) return reply;
      const id = (req.params as { id: string }).id;
      if (!events.has(id)) return problem(reply, 404, 'no such event');
      return updateEvent(id, req.body as Record<string, unknown>);
    });
    f.delete('/events/:id', async (req, reply) => {
      if (!auth(req, reply, true)) return reply;
      const id = (req.params as { id: string }).id;
      const e = events.get(id);
      if (!e) return problem(reply, 404, 'no such event');
      deleteEvent(id);
      return e;
    });

    f.get('/vens', async (req, reply) => {
      if (!auth(req, reply)) return reply;
      const q = req.query as Record<string, string>;
      return page(
        [...vens.values()].filter((v) => !q['venName'] || v['venName'] === q['venName']),
        q,
      );
    });
    f.post('/vens', async (req, reply) => {
      if (!auth(req, reply)) return reply;
      const body = req.body as Record<string, unknown>;
      if (typeof body?.['venName'] !== 'string') return problem(reply, 400, 'venName required');
      if ([...vens.values()].some((v) => v['venName'] === body['venName']))
        return problem(reply, 409, 'venName exists');
      const o = stored('VEN', body);
      vens.set(o.id, o);
      return reply.code(201).send(o);
    });
    f.get('/vens/:id/resources', async (req, reply) => {
      if (!auth(req, reply)) return reply;
      const venID = (req.params as { id: string }).id;
      if (!vens.has(venID)) return problem(reply, 404, 'no such ven');
      return [...resources.values()].filter((r) => r['venID'] === venID);
    });
    f.post('/vens/:id/resources', async (req, reply) => {
      if (!auth(req, reply)) return reply;
      const venID = (req.params as { id: string }).id;
      if (!vens.has(venID)) return problem(reply, 404, 'no such ven');
      const body = req.body as Record<string, unknown>;
      if (typeof body?.['resourceName'] !== 'string') return problem(reply, 400, 'resourceName required');
      const o = stored('RESOURCE', body, { venID });
      resources.set(o.id, o);
      return reply.code(201).send(o);
    });

    f.get('/reports', async (req, reply) => {
      if (!auth(req, reply)) return reply;
      return page(reports, req.query as Record<string, string>);
    });
    f.post('/reports', async (req, reply) => {
      if (!auth(req, reply)) return reply;
      const body = req.body as Record<string, unknown>;
      for (const k of ['programID', 'eventID', 'clientName', 'resources']) {
        if (body?.[k] === undefined) return problem(reply, 400, `${k} required`);
      }
      const o = stored('REPORT', body);
      reports.push(o);
      return reply.code(201).send(o);
    });

    f.get('/subscriptions', async (req, reply) => {
      if (!auth(req, reply)) return reply;
      return page([...subscriptions.values()], req.query as Record<string, string>);
    });
    f.post('/subscriptions', async (req, reply) => {
      if (!auth(req, reply)) return reply;
      const body = req.body as Record<string, unknown>;
      if (!Array.isArray(body?.['objectOperations'])) return problem(reply, 400, 'objectOperations required');
      const o = stored('SUBSCRIPTION', body);
      subscriptions.set(o.id, o);
      return reply.code(201).send(o);
    });
    return f;
  }

  return {
    get url() {
      return url;
    },
    async start() {
      if (app) return;
      app = build();
      await app.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' });
      const a = app.server.address() as AddressInfo;
      url = `http://${opts.host ?? '127.0.0.1'}:${a.port}`;
    },
    async stop() {
      const a = app;
      app = undefined;
      await a?.close();
    },
    setOutage(code) {
      outage = code;
    },
    expireTokens() {
      tokens.clear();
    },
    setSkew(ms) {
      skewMs = ms;
    },
    createProgram,
    createEvent,
    updateEvent,
    deleteEvent,
    injectRawEvent(e) {
      events.set(e.id, e as Obj);
    },
    programs,
    events,
    vens,
    resources,
    reports,
    subscriptions,
    stats,
  };
}
