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

/** Where the problem types are explained (docs/api-problems.md is published there). */
export const PROBLEM_BASE = 'https://gridkeeper.dev/problems/';

/** Problem type URIs: stable, absolute, one per kind of failure; `GET /api/v1/problems` lists them offline. */
export const PROBLEM_TYPES = {
  validation: `${PROBLEM_BASE}validation`,
  unauthorized: `${PROBLEM_BASE}unauthorized`,
  forbidden: `${PROBLEM_BASE}forbidden`,
  notFound: `${PROBLEM_BASE}not-found`,
  methodNotAllowed: `${PROBLEM_BASE}method-not-allowed`,
  notAcceptable: `${PROBLEM_BASE}not-acceptable`,
  conflict: `${PROBLEM_BASE}conflict`,
  tooLarge: `${PROBLEM_BASE}too-large`,
  unsupportedMediaType: `${PROBLEM_BASE}unsupported-media-type`,
  unprocessable: `${PROBLEM_BASE}unprocessable`,
  tooManyRequests: `${PROBLEM_BASE}too-many-requests`,
  upstream: `${PROBLEM_BASE}upstream`,
  unavailable: `${PROBLEM_BASE}unavailable`,
  internal: `${PROBLEM_BASE}internal`,
} as const;

export type ProblemKind = keyof typeof PROBLEM_TYPES;

/** What each problem type means, served at `GET /api/v1/problems`. */
export const PROBLEM_DESCRIPTIONS: Record<ProblemKind, string> = {
  validation: 'The request is malformed; `errors` lists every invalid field with its path and JSON Pointer.',
  unauthorized: 'No API key, or an unknown or revoked one. Send `Authorization: Bearer <key>`.',
  forbidden: 'The key is valid but lacks the scope the route needs (read < control < admin).',
  notFound: 'No such route or resource.',
  methodNotAllowed: 'The route exists but not with this HTTP method.',
  notAcceptable: 'None of the media types in `Accept` can be served (reports: application/json or text/csv).',
  conflict: 'The request conflicts with the current state (e.g. the session already stopped).',
  tooLarge: 'The request body is larger than the API accepts (1 MiB).',
  unsupportedMediaType: 'The body is not `application/json`.',
  unprocessable: 'The body is well-formed but cannot be carried out as given.',
  tooManyRequests: 'Too many failed authentication attempts from this client; wait `Retry-After` seconds.',
  upstream: 'A device or upstream system refused or did not answer.',
  unavailable: 'The component that carries out this request (OCPP proxy, grid service) is not running.',
  internal: 'An unexpected error; the gateway log has the details.',
};

/** The problem type of an HTTP status that has no more specific one. */
export const TYPE_BY_STATUS: Readonly<Record<number, string>> = {
  400: PROBLEM_TYPES.validation,
  401: PROBLEM_TYPES.unauthorized,
  403: PROBLEM_TYPES.forbidden,
  404: PROBLEM_TYPES.notFound,
  405: PROBLEM_TYPES.methodNotAllowed,
  406: PROBLEM_TYPES.notAcceptable,
  409: PROBLEM_TYPES.conflict,
  413: PROBLEM_TYPES.tooLarge,
  415: PROBLEM_TYPES.unsupportedMediaType,
  422: PROBLEM_TYPES.unprocessable,
  429: PROBLEM_TYPES.tooManyRequests,
  502: PROBLEM_TYPES.upstream,
  503: PROBLEM_TYPES.unavailable,
  500: PROBLEM_TYPES.internal,
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
    type: fields.type ?? TYPE_BY_STATUS[status] ?? PROBLEM_TYPES.internal,
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
