// ZenoMail's domain errors as problem details: each code has its status.
import { AppError } from '#shared/http/errors';
import { MailError, type MailErrorCode } from '../core/errors.js';

const STATUS: Record<MailErrorCode, [number, string]> = {
  subject_erased: [410, 'Gone'],
  message_erased: [410, 'Gone'],
  not_found: [404, 'Not Found'],
  sender_not_verified: [422, 'Unprocessable Content'],
  recipient_suppressed: [422, 'Unprocessable Content'],
  idempotency_key_reused: [422, 'Unprocessable Content'],
  unknown_template: [422, 'Unprocessable Content'],
  missing_variables: [422, 'Unprocessable Content'],
  invalid_template: [400, 'Bad Request'],
  invalid_transport: [422, 'Unprocessable Content'],
  invalid_dkim_key: [422, 'Unprocessable Content'],
};

/** Renders a MailError as an AppError; anything else passes through unchanged. */
export function toProblem(err: unknown): unknown {
  if (!(err instanceof MailError)) return err;
  const [status, title] = STATUS[err.code];
  return new AppError(status, err.code, title, { detail: err.detail, ...(err.extras ? { extras: err.extras } : {}) });
}
