/**
 * RFC 9457 problem details. Every error the API returns goes through here so
 * clients can rely on one shape: `type`, `title`, `status`, `detail`,
 * `instance`, and for bad input `errors` listing every invalid field.
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface FieldError {
  /** Where the field sits: `body`, `querystring`, `params`, `headers`. */
  readonly in: string;
  /** Dotted path with indices, e.g. `body.events[1]`. */
  readonly path: string;
  /** JSON Pointer inside that part, e.g. `/events/1`. */
  readonly pointer: string;
  readonly message: string;
}

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly instance?: string;
  readonly errors?: readonly FieldError[];
  readonly [ext: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Problem type URIs; relative, so they resolve to the gateway's own `GET /api/v1/problems`. */
export const PROBLEM_TYPES = {
  validation: '/api/v1/problems#validation',
  unauthorized: '/api/v1/problems#unauthorized',
  forbidden: '/api/v1/problems#forbidden',
  notFound: '/api/v1/problems#not-found',
  unavailable: '/api/v1/problems#unavailable',
  conflict: '/api/v1/problems#conflict',
  upstream: '/api/v1/problems#upstream',
  internal: '/api/v1/problems#internal',
} as const;

/** What each problem type means, served at `GET /api/v1/problems`. */
export const PROBLEM_DESCRIPTIONS: Record<keyof typeof PROBLEM_TYPES, string> = {
  validation: 'The request is malformed; `errors` lists every invalid field with its path and JSON Pointer.',
  unauthorized: 'No API key, or an unknown or revoked one. Send `Authorization: Bearer <key>`.',
  forbidden: 'The key is valid but lacks the scope the route needs (read < control < admin).',
  notFound: 'No such route or resource.',
  unavailable: 'The component that carries out this request (OCPP proxy, grid service) is not running.',
  conflict: 'The request conflicts with the current state (e.g. the session already stopped).',
  upstream: 'A device or upstream system refused or did not answer.',
  internal: 'An unexpected error; the gateway log has the details.',
};

export function problem(
  status: number,
  fields: {
    type?: string;
    title?: string;
    detail?: string;
    instance?: string;
    errors?: readonly FieldError[];
  } & Record<string, unknown> = {},
): Problem {
  return {
    ...fields,
    type: fields.type ?? 'about:blank',
    title: fields.title ?? TITLES[status] ?? 'Error',
    status,
  };
}

/** An error a handler throws to answer with a problem document. */
export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title);
  }
}

export function notFound(detail: string): ProblemError {
  return new ProblemError(problem(404, { type: PROBLEM_TYPES.notFound, detail }));
}

export function badRequest(detail: string, errors?: readonly FieldError[]): ProblemError {
  return new ProblemError(problem(400, { type: PROBLEM_TYPES.validation, detail, ...(errors ? { errors } : {}) }));
}

export function unavailable(detail: string): ProblemError {
  return new ProblemError(problem(503, { type: PROBLEM_TYPES.unavailable, detail }));
}

export function conflict(detail: string): ProblemError {
  return new ProblemError(problem(409, { type: PROBLEM_TYPES.conflict, detail }));
}
