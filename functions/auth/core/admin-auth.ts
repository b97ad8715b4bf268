// The admin credential: an access token of the system tenant's zeno-admin client with scope
// zeno:admin. It authorises the admin API and serves as the DCR initial access token.
import { bearerToken, checkAccessToken, type AccessTokenClaims } from './access-tokens.js';
import { ADMIN_CLIENT_ID, ADMIN_SCOPE, SYSTEM_TENANT } from './bootstrap.js';
import { bearerError } from './oauth-error.js';
import type { AuthRuntime } from './runtime.js';

/** The admin API's own resource identifier (RFC 8707), beside the system issuer (the default `aud`). */
const adminAudience = (baseUrl: string) => `${baseUrl}/auth/admin`;

/**
 * Checks a Bearer token for the admin API: the system tenant's, of the admin client, with scope
 * zeno:admin, and meant for this API. A token the admin client obtained for another resource
 * (`resource` → `aud`) must not work here, or that resource server could replay it to us.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4 "The resource server MUST validate that
 * the aud claim contains a resource indicator value corresponding to an identifier the resource
 * server expects for itself."
 */
export async function requireAdminToken(rt: AuthRuntime, authorization: string | undefined): Promise<AccessTokenClaims> {
  await rt.ready();
  const token = bearerToken(authorization);
  if (!token) throw bearerError('invalid_token', 'A Bearer access token of the admin client is required.');
  const system = await rt.tenants.resolve(SYSTEM_TENANT);
  const claims = system ? await checkAccessToken(rt, system, token) : undefined;
  if (!claims) throw bearerError('invalid_token', 'The access token is invalid, expired or revoked.');
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.some((a) => a === rt.issuer(SYSTEM_TENANT) || a === adminAudience(rt.baseUrl))) {
    throw bearerError('invalid_token', 'The access token is not meant for the admin API.');
  }
  if (claims.client_id !== ADMIN_CLIENT_ID || !claims.scope.split(' ').includes(ADMIN_SCOPE)) {
    throw bearerError('insufficient_scope', `The token needs scope ${ADMIN_SCOPE} of ${ADMIN_CLIENT_ID}.`);
  }
  return claims;
}
