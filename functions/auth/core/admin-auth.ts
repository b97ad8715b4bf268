// The admin credential: an access token of the system tenant's zeno-admin client with scope
// zeno:admin. It authorises the admin API and serves as the DCR initial access token.
import { bearerToken, checkAccessToken, type AccessTokenClaims } from './access-tokens.js';
import { ADMIN_CLIENT_ID, ADMIN_SCOPE, SYSTEM_TENANT } from './bootstrap.js';
import { bearerError } from './oauth-error.js';
import type { AuthRuntime } from './runtime.js';

export async function requireAdminToken(rt: AuthRuntime, authorization: string | undefined): Promise<AccessTokenClaims> {
  await rt.ready();
  const token = bearerToken(authorization);
  if (!token) throw bearerError('invalid_token', 'A Bearer access token of the admin client is required.');
  const system = await rt.tenants.resolve(SYSTEM_TENANT);
  const claims = system ? await checkAccessToken(rt, system, token) : undefined;
  if (!claims) throw bearerError('invalid_token', 'The access token is invalid, expired or revoked.');
  if (claims.client_id !== ADMIN_CLIENT_ID || !claims.scope.split(' ').includes(ADMIN_SCOPE)) {
    throw bearerError('insufficient_scope', `The token needs scope ${ADMIN_SCOPE} of ${ADMIN_CLIENT_ID}.`);
  }
  return claims;
}
