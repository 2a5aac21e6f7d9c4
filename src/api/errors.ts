import type { FastifyError, FastifyInstance } from 'fastify';
import { PROBLEM_CONTENT_TYPE, PROBLEM_TYPES, ProblemError, problem } from './problem.js';

/**
 * Every error as RFC 9457 problem+json, unknown routes included; what failed is kept in `failure`
 * for the audit log.
 */
export function installProblemHandlers(app: FastifyInstance, failure: WeakMap<object, string>): void {
  app.setErrorHandler((err: FastifyError | ProblemError, req, reply) => {
    let body: ReturnType<typeof problem>;
    if (err instanceof ProblemError) {
      body = err.problem;
    } else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      // fastify's own 4xx (body too large, bad content type, bad JSON) get the type of their status.
      body = problem(err.statusCode, { detail: err.message });
    } else {
      req.log.error({ err, url: req.url }, 'request failed');
      body = problem(500, { type: PROBLEM_TYPES.internal, detail: 'internal error; see the gateway log' });
    }
    if (body.status === 401) reply.header('www-authenticate', 'Bearer');
    if (body.status === 429 && typeof body.retryAfterS === 'number')
      reply.header('retry-after', String(body.retryAfterS));
    failure.set(req, body.detail ?? body.title);
    return reply
      .code(body.status)
      .type(PROBLEM_CONTENT_TYPE)
      .serializer((x) => JSON.stringify(x))
      .send({ ...body, instance: req.url.split('?')[0] });
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .type(PROBLEM_CONTENT_TYPE)
      .send(
        problem(404, {
          type: PROBLEM_TYPES.notFound,
          detail: `no route ${req.method} ${req.url.split('?')[0]}`,
          instance: req.url.split('?')[0],
        }),
      ),
  );
}
