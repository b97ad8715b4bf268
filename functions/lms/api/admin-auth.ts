// The admin credential: an access token of the tenant's ZenoAuth issuer with scope lms:admin
// (zeno:admin includes it). ZenoLMS holds no auth keys, so it checks the token as any resource
// server does: signature by the issuer's published JWKS, issuer, `typ`, expiry, then scope.
// @see https://www.rfc-editor.org/rfc/rfc9068#section-4 (validating JWT access tokens)
// @see https://www.rfc-editor.org/rfc/rfc6750#section-3 (the WWW-Authenticate challenge)
import { createRemoteJWKSet, errors, jwtVerify } from 'jose';
import { AppError } from '#shared/http/errors';

/** The scopes that grant the admin API; `zeno:admin` is the installation-wide admin scope. */
const ADMIN_SCOPES = ['lms:admin', 'zeno:admin'];

interface TenantIssuers {
  /** The tenant's issuer, `{auth base}/{tenant}`. */
  issuer(tenant: string): string;
  /** Its JWKS URL. */
  jwksUrl(tenant: string): string;
}

/** Checks an `Authorization` header for `tenant`; resolves to the admin's subject, or throws 401/403/503. */
export type AdminCheck = (tenant: string, authorization: string | undefined) => Promise<{ sub: string }>;

function bearerError(status: 401 | 403, code: 'invalid_token' | 'insufficient_scope', detail: string): AppError {
  return new AppError(status, code, status === 401 ? 'Unauthorized' : 'Forbidden', {
    detail,
    headers: { 'www-authenticate': `Bearer realm="zenokube-lms", error="${code}"` },
  });
}

/** RFC 6750 §2.1 `Bearer <b64token>`. */
function bearerToken(header: string | undefined): string | undefined {
  const m = header ? /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim()) : null;
  return m?.[1];
}

/** The issuer's keys could not be had: the token is not judged, the request may be retried. */
function issuerFailed(err: unknown): boolean {
  if (!(err instanceof errors.JOSEError)) return true;
  return err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err.code === 'ERR_JOSE_GENERIC';
}

export function createAdminCheck(issuers: TenantIssuers): AdminCheck {
  // One remote key set per tenant, bounded: an unknown tenant costs one failed fetch, then a 401.
  const sets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  const keysOf = (tenant: string) => {
    let set = sets.get(tenant);
    if (!set) {
      if (sets.size >= 1000) sets.delete(sets.keys().next().value!);
      set = createRemoteJWKSet(new URL(issuers.jwksUrl(tenant)), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
      sets.set(tenant, set);
    }
    return set;
  };
  return async (tenant, authorization) => {
    const token = bearerToken(authorization);
    if (!token) throw bearerError(401, 'invalid_token', 'A Bearer access token of the tenant with scope lms:admin is required.');
    if (token.length > 8192) throw bearerError(401, 'invalid_token', 'The access token is invalid or expired.');
    let claims: Record<string, unknown>;
    try {
      // ZenoAuth signs access tokens with EdDSA and types them at+jwt (RFC 9068 §2.1). The issuer
      // pins the tenant: a token of another tenant fails here.
      ({ payload: claims } = await jwtVerify(token, keysOf(tenant), { issuer: issuers.issuer(tenant), algorithms: ['EdDSA'], typ: 'at+jwt', clockTolerance: 5 }));
    } catch (err) {
      if (issuerFailed(err)) {
        throw new AppError(503, 'issuer_unavailable', 'Service Unavailable', { detail: 'The token issuer cannot be reached to check the token.', cause: err, headers: { 'retry-after': '5' } });
      }
      throw bearerError(401, 'invalid_token', 'The access token is invalid or expired.');
    }
    if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number') throw bearerError(401, 'invalid_token', 'The access token is invalid or expired.');
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
    if (!scopes.some((s) => ADMIN_SCOPES.includes(s))) throw bearerError(403, 'insufficient_scope', 'The token needs scope lms:admin.');
    return { sub: claims.sub };
  };
}
