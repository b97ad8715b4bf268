// The admin credential of the dead-letter API: the same one auth-admin takes, an access token of
// the system tenant's zeno-admin client with scope zeno:admin. This product holds no auth keys, so
// it validates the token as any resource server does: signature by the issuer's published JWKS,
// issuer, `typ`, expiry, then client and scope.
// @see https://www.rfc-editor.org/rfc/rfc9068#section-4 (validating JWT access tokens)
// @see https://www.rfc-editor.org/rfc/rfc6750#section-3 (the WWW-Authenticate challenge)
import { bearerError, bearerToken, remoteKeys, scopesOf, verifyAccessToken } from '#shared/http/access-token';

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

export function createAdminCheck(opts: AdminAuthOptions): AdminCheck {
  const keys = remoteKeys(opts.jwksUrl ?? `${opts.issuer}/jwks`);
  return async (authorization) => {
    const token = bearerToken(authorization);
    if (!token) throw bearerError(401, 'invalid_token', 'A Bearer access token of the admin client is required.');
    const claims = await verifyAccessToken(token, keys, opts.issuer);
    if (claims.client_id !== ADMIN_CLIENT_ID || !scopesOf(claims).includes(ADMIN_SCOPE)) {
      throw bearerError(403, 'insufficient_scope', `The token needs scope ${ADMIN_SCOPE} of ${ADMIN_CLIENT_ID}.`);
    }
    return { sub: claims.sub };
  };
}
