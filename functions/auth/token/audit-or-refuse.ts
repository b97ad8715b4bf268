// Audit or fail: a grant whose audit row cannot be written is refused with the retryable
// temporarily_unavailable (503, Retry-After), so no token leaves without its row.
import { AuditUnavailable } from '../core/audit.js';
import { OAuthError } from '../core/oauth-error.js';

/** Awaits the row's commit; turns `AuditUnavailable` into RFC 6749 §5.2's temporarily_unavailable. */
export async function auditOrRefuse(written: Promise<void>): Promise<void> {
  try {
    await written;
  } catch (err) {
    if (!(err instanceof AuditUnavailable)) throw err;
    throw new OAuthError('temporarily_unavailable', 'The request cannot be recorded right now; try again.', { status: 503, headers: { 'retry-after': '2' }, cause: err });
  }
}
