// Domain failures of ZenoMail with stable codes; the HTTP layer maps each code to its status.

export type MailErrorCode =
  | 'subject_erased'
  | 'message_erased'
  | 'not_found'
  | 'sender_not_verified'
  | 'recipient_suppressed'
  | 'idempotency_key_reused'
  | 'unknown_template'
  | 'missing_variables'
  | 'invalid_template'
  | 'invalid_transport'
  | 'invalid_dkim_key';

/** A request the rules refuse; `detail` is safe to show the caller. */
export class MailError extends Error {
  readonly code: MailErrorCode;
  readonly detail: string;
  readonly extras: Record<string, unknown> | undefined;
  constructor(code: MailErrorCode, detail: string, extras?: Record<string, unknown>) {
    super(detail);
    this.name = 'MailError';
    this.code = code;
    this.detail = detail;
    this.extras = extras;
  }
}
