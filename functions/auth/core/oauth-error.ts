// OAuth 2.0 errors in the shape RFC 6749 §5.2 fixes: {error, error_description}, never cached.
import { asDatabaseUnavailable } from '#shared/db/errors';
import { AppError } from '#shared/http/errors';

/** Error codes of RFC 6749 §4.1.2.1 / §5.2, RFC 6750 §3.1, RFC 9126, RFC 9396, RFC 8707, RFC 8628 §3.5, RFC 9449 §12.2, RFC 9101 §6.2, OIDC Core §3.1.2.6. */
type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'unsupported_token_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'invalid_authorization_details'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'access_denied'
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  | 'invalid_request_uri'
  | 'invalid_request_object'
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce';

const STATUS: Partial<Record<OAuthErrorCode, number>> = {
  invalid_client: 401,
  invalid_token: 401,
  insufficient_scope: 403,
  access_denied: 403,
  server_error: 500,
  temporarily_unavailable: 503,
};

/**
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 * "The authorization server responds with an HTTP 400 (Bad Request) status code (unless specified
 * otherwise)"; every response carries `Cache-Control: no-store` (§5.1).
 */
export class OAuthError extends AppError {
  readonly error: OAuthErrorCode;

  constructor(error: OAuthErrorCode, description: string, opts: { status?: number; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(opts.status ?? STATUS[error] ?? 400, error, error, { detail: description, headers: opts.headers, cause: opts.cause });
    this.name = 'OAuthError';
    this.error = error;
  }

  override getResponse(): Response {
    return new Response(JSON.stringify({ error: this.error, error_description: this.detail }), {
      status: this.status,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache', ...this.headers },
    });
  }
}

/**
 * RFC 6750 §3: a protected resource answers with `WWW-Authenticate: Bearer` and the error code.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function bearerError(error: 'invalid_request' | 'invalid_token' | 'insufficient_scope', description: string): OAuthError {
  const quoted = description.replace(/["\\]/g, '');
  return new OAuthError(error, description, {
    status: error === 'invalid_request' ? 400 : undefined,
    headers: { 'www-authenticate': `Bearer error="${error}", error_description="${quoted}"` },
  });
}

/**
 * RFC 9449 §7.1: a protected resource refuses a DPoP-bound request with the `DPoP` scheme in
 * `WWW-Authenticate`, the algorithms it accepts, and (for `use_dpop_nonce`) a fresh nonce.
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
export function dpopError(error: 'invalid_request' | 'invalid_token' | 'invalid_dpop_proof' | 'use_dpop_nonce' | 'insufficient_scope', description: string, algs: readonly string[], nonce?: string): OAuthError {
  const quoted = description.replace(/["\\]/g, '');
  return new OAuthError(error, description, {
    status: error === 'invalid_request' ? 400 : error === 'insufficient_scope' ? 403 : 401,
    headers: { 'www-authenticate': `DPoP error="${error}", error_description="${quoted}", algs="${algs.join(' ')}"`, ...(nonce ? { 'dpop-nonce': nonce } : {}) },
  });
}

/**
 * The OAuth rendering of a failure: an OAuthError as it is, a database that cannot serve the
 * request for now as `temporarily_unavailable` (503, Retry-After), anything else undefined.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1
 * "temporarily_unavailable: The authorization server is currently unable to handle the request
 * due to a temporary overloading or maintenance of the server."
 */
export function toOAuthError(err: unknown): OAuthError | undefined {
  if (err instanceof OAuthError) return err;
  const unavailable = asDatabaseUnavailable(err);
  if (!unavailable) return undefined;
  return new OAuthError('temporarily_unavailable', 'The server cannot handle the request right now; send it again later.', {
    headers: { 'retry-after': String(unavailable.retryAfterSeconds) },
    cause: unavailable,
  });
}
