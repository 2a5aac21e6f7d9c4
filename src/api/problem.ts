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

/** Problem type URIs; relative so they resolve against the gateway's own docs. */
export const PROBLEM_TYPES = {
  validation: '/docs/problems#validation',
  unauthorized: '/docs/problems#unauthorized',
  forbidden: '/docs/problems#forbidden',
  notFound: '/docs/problems#not-found',
  unavailable: '/docs/problems#unavailable',
  conflict: '/docs/problems#conflict',
  upstream: '/docs/problems#upstream',
  internal: '/docs/problems#internal',
} as const;

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
