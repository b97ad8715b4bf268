// The one error base: a status, a stable code, a public title and detail; it renders itself.
import { HTTPException } from 'hono/http-exception';
import { asDatabaseUnavailable, type DatabaseUnavailableError } from '#shared/db/errors';

type ProblemExtras = Record<string, unknown>;

/**
 * An error that knows its HTTP rendering. The default rendering is RFC 9457
 * problem details; protocol errors (OAuth, SCIM, Vault) subclass and override
 * `getResponse()` with the shape their protocol fixes.
 * @see https://www.rfc-editor.org/rfc/rfc9457#section-3
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  /** Public, human-readable explanation specific to this occurrence. */
  readonly detail: string | undefined;
  readonly extras: ProblemExtras | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    status: number,
    code: string,
    title: string,
    opts: { detail?: string; cause?: unknown; extras?: ProblemExtras; headers?: Record<string, string> } = {},
  ) {
    super(title, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    this.detail = opts.detail;
    this.extras = opts.extras;
    this.headers = opts.headers;
  }

  /** Renders RFC 9457 `application/problem+json`; `instance` is the request id. */
  getResponse(requestId?: string): Response {
    const body: Record<string, unknown> = {
      type: `https://zenokube.io/problems/${this.code}`,
      title: this.message,
      status: this.status,
      code: this.code,
    };
    if (this.detail !== undefined) body.detail = this.detail;
    if (requestId) body.instance = `urn:request:${requestId}`;
    if (this.extras) Object.assign(body, this.extras);
    return new Response(JSON.stringify(body), {
      status: this.status,
      headers: { 'content-type': 'application/problem+json', ...this.headers },
    });
  }
}

export const badRequest = (code: string, detail: string, extras?: ProblemExtras) =>
  new AppError(400, code, 'Bad Request', { detail, extras });
export const notFound = (detail = 'The requested resource does not exist.') =>
  new AppError(404, 'not_found', 'Not Found', { detail });
export const conflict = (code: string, detail: string) => new AppError(409, code, 'Conflict', { detail });

/**
 * A retryable database failure as a 503 with Retry-After: the request may succeed when sent again.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-15.6.4
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
 */
function databaseUnavailable(u: DatabaseUnavailableError): AppError {
  return new AppError(503, u.code, 'Service Unavailable', {
    detail: 'The service could not reach its database in time. Send the request again later.',
    headers: { 'retry-after': String(u.retryAfterSeconds) },
    cause: u,
  });
}

/** Anything that renders itself: our errors, Hono's own, and a database that is unavailable for now. */
export function toAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  const unavailable = asDatabaseUnavailable(err);
  if (unavailable) return databaseUnavailable(unavailable);
  if (err instanceof HTTPException) {
    const status = err.status;
    if (status === 413) {
      return new AppError(413, 'payload_too_large', 'Payload Too Large', {
        detail: 'The request body is larger than this endpoint accepts.',
      });
    }
    if (status < 500) {
      return new AppError(status, `http_${status}`, err.message || 'Request Error', {
        detail: err.message || undefined,
      });
    }
  }
  return undefined;
}

/** The fixed rendering of an unexpected failure: nothing of the cause is exposed. */
export function internalError(requestId?: string): Response {
  return new AppError(500, 'internal_error', 'Internal Server Error', {
    detail: 'The server could not complete the request. Quote the instance when reporting it.',
  }).getResponse(requestId);
}
