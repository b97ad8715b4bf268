// The admin credential of the dead-letter API: the same one auth-admin takes, an access token of
// the system tenant's zeno-admin client with scope zeno:admin. This product holds no auth keys, so
// it validates the token as any resource server does: signature by the issuer's published JWKS,
// issuer, `typ`, expiry, then client and scope.
// @see https://www.rfc-editor.org/rfc/rfc9068#section-4 (validating JWT access tokens)
// @see https://www.rfc-editor.org/rfc/rfc6750#section-3 (the WWW-Authenticate challenge)
import { createRemoteJWKSet, errors, jwtVerify } from 'jose';
import { AppError } from '#shared/http/errors';

/** The admin client and scope, as ZenoAuth bootstraps them. */
const ADMIN_CLIENT_ID = 'zeno-admin';
const ADMIN_SCOPE = 'zeno:admin';

interface AdminAuthOptions {
  /** The system tenant's issuer, e.g. `https://id.example.com/auth/system`. */
  issuer: string;
  /** Its JWKS (default `<issuer>/jwks`). */
  jwksUrl?: string;
}

/** Checks an `Authorization` header; resolves to the admin's subject, or throws a 401/403/503. */
export type AdminCheck = (authorization: string | undefined) => Promise<{ sub: string }>;

/** RFC 6750 §3.1 errors, rendered as problem details with the Bearer challenge. */
function bearerError(status: 401 | 403, code: 'invalid_token' | 'insufficient_scope', detail: string): AppError {
  return new AppError(status, code, status === 401 ? 'Unauthorized' : 'Forbidden', {
    detail,
    headers: { 'www-authenticate': `Bearer realm="zenokube", error="${code}"` },
  });
}

/** RFC 6750 §2.1 `Bearer <b64token>`. */
function bearerToken(header: string | undefined): string | undefined {
  const m = header ? /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim()) : null;
  return m?.[1];
}

/**
 * The issuer's keys could not be had (no answer, a non-200 answer, not a JWKS): the token is not
 * judged, the request may be tried again. jose raises the bare JOSEError (`ERR_JOSE_GENERIC`) for
 * a non-200 JWKS answer, and a network failure is no JOSEError at all.
 */
function issuerFailed(err: unknown): boolean {
  if (!(err instanceof errors.JOSEError)) return true;
  return err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err.code === 'ERR_JOSE_GENERIC';
}

export function createAdminCheck(opts: AdminAuthOptions): AdminCheck {
  const keys = createRemoteJWKSet(new URL(opts.jwksUrl ?? `${opts.issuer}/jwks`), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
  return async (authorization) => {
    const token = bearerToken(authorization);
    if (!token) throw bearerError(401, 'invalid_token', 'A Bearer access token of the admin client is required.');
    if (token.length > 8192) throw bearerError(401, 'invalid_token', 'The access token is invalid or expired.');
    let claims: Record<string, unknown>;
    try {
      // ZenoAuth signs access tokens with EdDSA and types them at+jwt (RFC 9068 §2.1).
      ({ payload: claims } = await jwtVerify(token, keys, { issuer: opts.issuer, algorithms: ['EdDSA'], typ: 'at+jwt', clockTolerance: 5 }));
    } catch (err) {
      if (issuerFailed(err)) {
        throw new AppError(503, 'issuer_unavailable', 'Service Unavailable', { detail: 'The token issuer cannot be reached to check the token.', cause: err, headers: { 'retry-after': '5' } });
      }
      throw bearerError(401, 'invalid_token', 'The access token is invalid or expired.');
    }
    if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number') throw bearerError(401, 'invalid_token', 'The access token is invalid or expired.');
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
    if (claims.client_id !== ADMIN_CLIENT_ID || !scopes.includes(ADMIN_SCOPE)) {
      throw bearerError(403, 'insufficient_scope', `The token needs scope ${ADMIN_SCOPE} of ${ADMIN_CLIENT_ID}.`);
    }
    return { sub: claims.sub };
  };
}
