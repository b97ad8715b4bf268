// The admin credential: an access token of the tenant's ZenoAuth issuer with scope lms:admin
// (zeno:admin includes it). ZenoLMS holds no auth keys, so it checks the token as any resource
// server does: signature by the issuer's published JWKS, issuer, `typ`, expiry, then scope.
// @see https://www.rfc-editor.org/rfc/rfc9068#section-4 (validating JWT access tokens)
// @see https://www.rfc-editor.org/rfc/rfc6750#section-3 (the WWW-Authenticate challenge)
import { bearerError as bearer, bearerToken, remoteKeySets, scopesOf, verifyAccessToken } from '#shared/http/access-token';

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

const REALM = 'zenokube-lms';
const bearerError = (status: 401 | 403, code: 'invalid_token' | 'insufficient_scope', detail: string) => bearer(status, code, detail, { realm: REALM });

export function createAdminCheck(issuers: TenantIssuers): AdminCheck {
  // One remote key set per tenant, bounded: an unknown tenant costs one failed fetch, then a 401.
  const keysOf = remoteKeySets((tenant) => issuers.jwksUrl(tenant), 1000);
  return async (tenant, authorization) => {
    const token = bearerToken(authorization);
    if (!token) throw bearerError(401, 'invalid_token', 'A Bearer access token of the tenant with scope lms:admin is required.');
    // The issuer pins the tenant: a token of another tenant fails here.
    const claims = await verifyAccessToken(token, keysOf(tenant), issuers.issuer(tenant), REALM);
    if (!scopesOf(claims).some((s) => ADMIN_SCOPES.includes(s))) throw bearerError(403, 'insufficient_scope', 'The token needs scope lms:admin.');
    return { sub: claims.sub };
  };
}
