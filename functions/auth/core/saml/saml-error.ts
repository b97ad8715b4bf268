// A refused SAML message: a stable code the audit row and the tests read, a public detail, a status.
import { AppError } from '#shared/http/errors';

const TITLES: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Content Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Content' };

export class SamlError extends AppError {
  constructor(code: string, detail: string, status = 400, opts: { cause?: unknown } = {}) {
    super(status, code, TITLES[status] ?? 'Bad Request', { detail, cause: opts.cause });
  }
}
